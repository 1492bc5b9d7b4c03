"""The command line's argument parser: a usage error is one line that points to --help, and
exits 2 (`exits.EXIT_USAGE`). Shared by every command (momoscan, collect, alerts)."""

from __future__ import annotations

import argparse
from typing import NoReturn

from .exits import EXIT_USAGE


class Parser(argparse.ArgumentParser):
    """Usage errors in one line that points to --help (argparse's own print the whole usage
    block first)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see {self.prog} --help)\n")
