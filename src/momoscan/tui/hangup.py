"""Exiting when the terminal goes away: two workarounds for Textual 8.2.8's Linux driver.

A terminal that closes (an SSH connection dropping, a tmux session killed) hangs up the tty
and sends its session leader SIGHUP, then SIGCONT. From then on a read of the terminal returns
nothing at once and a write fails (EIO). The app's SIGHUP handler (in `MomoscanApp.start`)
ends the app as `q` does; two things in Textual's driver then kept the process alive for good
(issue 24: `q`, then the connection dropping 0.3 s later, 3 times of 3):

- Its SIGCONT handler resumes application mode on every SIGCONT, not only after its own
  SIGTSTP handler suspended it. After `q` has left application mode, that starts a new input
  thread (not a daemon) on the hung-up terminal: its reads return nothing, its `select` is
  always ready, it spins at most of a core, and the interpreter waits for it at exit.
- Its writer thread dies on the first failed write, and its queue holds 30 writes: once 30
  more are queued (the exit's own clean-up writes), `WriterThread.stop()` waits forever.
"""

from __future__ import annotations

import signal
import sys
from types import FrameType
from typing import IO, Any

from textual.app import App
from textual.driver import Driver


def resume_only_after_stop(app: App[Any]) -> None:
    """Let the driver's SIGCONT handler restart application mode only after its SIGTSTP
    handler stopped it (Ctrl+Z, `kill -TSTP`), and only while the app runs. Call it once
    the driver is up (its constructor installs both handlers)."""
    on_stop = signal.getsignal(signal.SIGTSTP)
    on_cont = signal.getsignal(signal.SIGCONT)
    if not callable(on_stop) or not callable(on_cont):
        return  # not a driver that handles them: nothing to guard
    stopped = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopped
        stopped = True
        on_stop(signum, frame)

    def cont(signum: int, frame: FrameType | None) -> None:
        nonlocal stopped
        resume, stopped = stopped and app.is_running, False
        if resume:
            on_cont(signum, frame)

    signal.signal(signal.SIGTSTP, stop)
    signal.signal(signal.SIGCONT, cont)


class _GoneTerminalFile:
    """The driver's output file, whose writes stop failing once the terminal is gone: they
    are dropped, so the writer thread lives on and empties its queue, and the exit finishes."""

    def __init__(self, file: IO[str]):
        self._file = file
        self.gone = False

    def write(self, text: str) -> int:
        if not self.gone:
            try:
                return self._file.write(text)
            except OSError:  # EIO on a hung-up terminal, EPIPE
                self.gone = True
        return len(text)

    def flush(self) -> None:
        if not self.gone:
            try:
                self._file.flush()
            except OSError:
                self.gone = True

    def __getattr__(self, name: str) -> Any:
        return getattr(self._file, name)


def hangup_safe(driver_class: type[Driver]) -> type[Driver]:
    """`driver_class`, or when it is Textual's Linux driver, one whose output survives the
    terminal going away (see the module's docstring). Other drivers (the web driver of
    `momoscan serve`, Windows) are returned as they are."""
    if sys.platform == "win32":
        return driver_class
    from textual.drivers.linux_driver import LinuxDriver

    if not issubclass(driver_class, LinuxDriver):
        return driver_class

    class HangupSafeDriver(driver_class):  # type: ignore[valid-type,misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            # Read once, when application mode starts the writer thread (a private name of
            # Textual 8.2.8's LinuxDriver: checked by tests/test_stops.py).
            output: IO[str] = getattr(self, "_file")  # noqa: B009 (untyped in Textual)
            setattr(self, "_file", _GoneTerminalFile(output))  # noqa: B010

    return HangupSafeDriver
