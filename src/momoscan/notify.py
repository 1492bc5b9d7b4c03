"""Desktop notifications for alerts, where the system has a notification service.

Through `desktop-notifier` (D-Bus on Linux and the BSDs, the Notification Center on macOS,
WinRT toasts on Windows), imported only when the first alert is shown. Where there is no
service (a server, a container, cron, an SSH session without a session bus) it fails quietly:
one line in the log file, nothing on the screen or stderr, and no more tries that run.

No Textual here: the headless loop sends them too.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import anyio

from .models import AlertEvent

log = logging.getLogger(__name__)

#: Seconds one notification may take (a session bus that accepts and never answers).
SEND_TIMEOUT = 5.0
#: More alerts than this at once become one notification that counts them.
GROUP_OVER = 3


def no_service_reason(environ: Mapping[str, str] | None = None) -> str:
    """Why this system cannot show desktop notifications, or "" when it may.

    On Linux and the BSDs notifications go over the D-Bus session bus: without its address
    (or its socket in $XDG_RUNTIME_DIR) or a display to find it from, there is none.
    """
    env = os.environ if environ is None else environ
    if sys.platform in ("darwin", "win32"):
        return ""
    if env.get("DBUS_SESSION_BUS_ADDRESS"):
        return ""
    runtime = env.get("XDG_RUNTIME_DIR")
    if runtime and Path(runtime, "bus").exists():
        return ""
    if env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"):
        return ""
    return "no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set)"


class _Failures(logging.Handler):
    """Catches desktop-notifier's own failure records (it logs a warning with a traceback
    rather than raising), so that they reach the log file as one line and never stderr."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.failed: str = ""

    def emit(self, record: logging.LogRecord) -> None:
        error = record.exc_info[1] if record.exc_info else None
        self.failed = f"{record.getMessage()}: {error}" if error else record.getMessage()


def summary(events: Sequence[AlertEvent]) -> tuple[str, str]:
    """A notification's (title, body) for alerts that fired together."""
    if len(events) == 1:
        return f"momoscan: {events[0].title}", events[0].message
    names = ", ".join(dict.fromkeys(e.symbol for e in events))
    return f"momoscan: {len(events)} alerts", names


class DesktopNotifier:
    """Sends alerts as desktop notifications; quiet and off for the run after a failure."""

    def __init__(self, *, enabled: bool = True, environ: Mapping[str, str] | None = None):
        self.enabled = enabled
        self.unavailable = no_service_reason(environ) if enabled else "turned off"
        self.sent = 0
        self._notifier: Any = None
        self._failures = _Failures()

    @property
    def active(self) -> bool:
        return self.enabled and not self.unavailable

    def _give_up(self, why: str) -> None:
        self.unavailable = why
        log.info("desktop notifications are off for this run: %s", why)

    async def notify(self, events: Sequence[AlertEvent]) -> bool:
        """Show `events` (one notification; several become one that names them). True when
        the system took it. Never raises."""
        if not events or not self.active:
            return False
        title, body = summary(events)
        try:
            if self._notifier is None:
                from desktop_notifier import DesktopNotifier as Backend

                quiet = logging.getLogger("desktop_notifier")
                quiet.addHandler(self._failures)
                quiet.propagate = False
                self._notifier = Backend(app_name="momoscan")
            self._failures.failed = ""
            with anyio.fail_after(SEND_TIMEOUT):
                await self._notifier.send(title=title, message=body)
        except TimeoutError:
            self._give_up(f"the notification service did not answer in {SEND_TIMEOUT:g} s")
            return False
        except Exception as exc:  # an import or platform error: no notifications here
            self._give_up(f"{type(exc).__name__}: {exc}")
            return False
        if self._failures.failed:
            self._give_up(self._failures.failed)
            return False
        self.sent += 1
        return True
