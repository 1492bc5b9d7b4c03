"""Importing a library without the optional heavy packages it would pull in on its own."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterable
from types import ModuleType


def import_without(name: str, *, hidden: Iterable[str]) -> ModuleType:
    """Import module `name` as if the `hidden` packages were not installed.

    For libraries that try optional imports at import time (`try: import pandas except
    ImportError: pandas = None`) and work without them. A hidden package that is already
    imported is left alone (hiding it would gain nothing); one that is not is hidden only while
    `name` imports, so it can still be imported later by whoever needs it.
    """
    if name in sys.modules:
        return sys.modules[name]
    masked = [package for package in hidden if package not in sys.modules]
    for package in masked:
        sys.modules[package] = None  # type: ignore[assignment]  # makes `import` raise
    try:
        return importlib.import_module(name)
    finally:
        for package in masked:
            if sys.modules.get(package, ...) is None:
                del sys.modules[package]
