"""momoscan: a terminal scanner for momentum day traders and options-flow watchers."""

__version__ = "0.1.0"
