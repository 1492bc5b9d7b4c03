"""The simulated market.

httpx is imported here first, without the command-line tool it would load along (see
`momoscan.sources`): the market's own process needs httpx's URL and transport types, not Rich.
"""

from .._lean import import_without

import_without("httpx", hidden=("rich", "click", "pygments"))
