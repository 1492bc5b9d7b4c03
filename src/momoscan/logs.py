"""Where momoscan logs, and how: a rotating file (and, headless, warnings on stderr), with
every configured key redacted from every record."""

from __future__ import annotations

import logging
import logging.handlers
import sys
from pathlib import Path

import platformdirs

from .config import APP_NAME, Settings
from .redact import RedactingFilter, Redactor


def log_path() -> Path:
    return platformdirs.user_log_path(APP_NAME) / "momoscan.log"


def setup_logging(settings: Settings, *, to_stderr: bool, verbose: bool = False) -> Path | None:
    """Log to a rotating file (and, headless, warnings to stderr), with keys redacted."""
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    for handler in list(root.handlers):
        root.removeHandler(handler)
    redactor = RedactingFilter(Redactor.from_settings(settings))
    path: Path | None = log_path()
    try:
        assert path is not None
        path.parent.mkdir(parents=True, exist_ok=True)
        file_handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=2_000_000, backupCount=2, encoding="utf-8"
        )
        file_handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
        )
        file_handler.addFilter(redactor)
        root.addHandler(file_handler)
    except OSError:
        path = None
    if to_stderr:
        err = logging.StreamHandler(sys.stderr)
        err.setLevel(logging.INFO if verbose else logging.WARNING)
        err.setFormatter(logging.Formatter("momoscan: %(message)s"))
        err.addFilter(redactor)
        root.addHandler(err)
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return path
