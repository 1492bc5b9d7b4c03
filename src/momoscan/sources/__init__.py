"""The data sources: wire formats into models.

httpx is imported here first, without the command-line tool it would load along: its `httpx`
CLI imports Rich, Click and Pygments at import time whenever they are installed (Textual brings
Rich), which would cost every worker process that parses a file tens of megabytes it never uses.
"""

from .._lean import import_without

import_without("httpx", hidden=("rich", "click", "pygments"))
