"""Secrets never leave: one redaction for every message that can carry a server's words.

A server may echo the key it was sent: a 400 whose message quotes the request, a gateway page
that prints the query string, nasdaq-data-link's `LimitExceededError` (whose text holds the key
by design, ../shared/reference/market-data-apis.md section 2). Such a message travels far: into
a `SourceError`, the cycle's report, `--json`, the stderr failure line, the `refresh_runs`
table, the status bar, notifications and the log file.

Where one redaction catches everything:

- **Where the server's words become ours.** Each source that holds a key builds its errors
  (`SourceError` and the per-symbol `SymbolError`) through a `Redactor`, so what leaves a source
  is already clean and every output downstream (report, JSON, stderr, database, screen,
  notifications) gets clean text without knowing about keys. Keyless sources (Cboe, OCC) are
  never sent a key, so they have none to echo.
- **The log file and stderr** get `RedactingFilter`, on the handlers themselves: a traceback
  (an httpx exception carries its URL, which would hold `apikey=` for a key sent in the query
  string) or a third-party library's line is redacted too, whoever logged it.

The secrets are the Settings' (the Twelve Data key and the Nasdaq Data Link key), each in the
forms a server may echo it in: as sent, percent-encoded (upper- and lower-case hex) and
form-encoded (`+` for a space). A key shorter than `MIN_SECRET` characters is not redacted:
replacing every "abc" in every message would garble them and hide nothing worth hiding.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING
from urllib.parse import quote, quote_plus

if TYPE_CHECKING:
    from .config import Settings

#: What a secret becomes in a message (the same mark the config's repr uses).
MASK = "***"
#: Shorter keys are not redacted (see the module docstring).
MIN_SECRET = 4

_HEX = re.compile(r"%[0-9A-F]{2}")


def secret_forms(secret: str) -> set[str]:
    """`secret` as a server may echo it: raw, percent-encoded (either hex case), form-encoded."""
    encoded = quote(secret, safe="")
    return {
        secret,
        encoded,
        _HEX.sub(lambda m: m.group().lower(), encoded),
        quote_plus(secret),
        quote_plus(secret, safe="/"),
        quote(secret),  # `/` left as is, as a path or a lenient encoder writes it
    }


class Redactor:
    """Replaces every known secret (in every form `secret_forms` gives) with `MASK`.

    Immutable once built; cheap to call on text holding no secret (one regex search).
    """

    __slots__ = ("_pattern", "secrets")

    def __init__(self, secrets: Iterable[str | None] = ()):
        self.secrets: tuple[str, ...] = tuple(
            dict.fromkeys(s for s in secrets if s and len(s) >= MIN_SECRET)
        )
        forms = {form for s in self.secrets for form in secret_forms(s)}
        # Longest first, so a form that contains another is replaced whole.
        ordered = sorted(forms, key=lambda f: (-len(f), f))
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    @classmethod
    def from_settings(cls, settings: Settings) -> Redactor:
        """The keys of `settings`: Twelve Data's and Nasdaq Data Link's."""
        return cls(settings.secrets)

    def __bool__(self) -> bool:
        return self._pattern is not None

    def __call__(self, text: str) -> str:
        """`text` with every secret replaced by `MASK` (the same object when none was there)."""
        if self._pattern is None:
            return text
        return self._pattern.sub(MASK, text)

    def __repr__(self) -> str:
        return f"Redactor({len(self.secrets)} secrets)"  # never the secrets themselves


class RedactingFilter(logging.Filter):
    """A handler filter: no secret reaches the log file or stderr, in the message, its
    arguments, a traceback or a stack.

    The record is rewritten in place (message formatted, arguments dropped), so every handler
    after this one sees the redacted text too.
    """

    def __init__(self, redactor: Redactor):
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        redact = self.redactor
        if not redact:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: let logging report it as it does
            return True
        cleaned = redact(message)
        if cleaned is not message or record.args:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True
