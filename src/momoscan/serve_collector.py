"""The one collector behind `momoscan serve`'s tabs: a `momoscan collect` child process.

`momoscan serve` starts it once its port is bound and before it serves, with the arguments the
tabs get, so that every tab finds the database's collector running and comes up as a viewer
of it (attach.py): one refresh loop, one credit budget, one stream connection and, in the
demo, one simulated market behind any number of tabs. Beside a collector that already runs (a
TUI on the same database) the child waits as standby, and takes over when that one stops.

What the child says reaches serve's stderr, each message once: the demo notice, that it waits
as standby, an error such as a rejected key (which a cycle would otherwise repeat every few
seconds). Its stdout, a line a cycle, is what the tabs show: it is dropped (the log file has
the rest). If it dies while serve runs, serve says so once and does not start another: an
open tab takes the collector's role within about a second (the viewer tries the lock), or
else the next tab opened does.

It is stopped when serve stops, however serve stops: SIGTERM, then a kill after
`STOP_GRACE` seconds. It runs in a process group of its own, so that Ctrl-C in serve's
terminal reaches serve alone and serve stops it in order; on Linux it also gets SIGTERM from
the kernel if serve dies without stopping it (killed with -9).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from typing import IO, Any

#: Seconds serve waits for the collector's first word (it collects, waits as standby, or
#: failed) before it serves anyway: the first tab then finds the role taken.
START_WITHIN = 60.0
#: Seconds the collector has to stop after SIGTERM before it is killed.
STOP_GRACE = 10.0
#: Distinct messages remembered (and so said once); past this, old ones may be said again.
REMEMBERED = 1000

#: Where serve's own lines about the collector start.
PREFIX = "momoscan serve: "


def _die_with_parent() -> Callable[[], None] | None:
    """A `preexec_fn` asking Linux to SIGTERM the child when serve dies (prctl's
    PR_SET_PDEATHSIG); None elsewhere. Resolved here, in serve, so that the forked child
    imports nothing before its exec."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()
    pr_set_pdeathsig = 1

    def preexec() -> None:
        prctl(pr_set_pdeathsig, signal.SIGTERM)
        if os.getppid() != parent:  # serve died before the request took effect
            os._exit(1)

    return preexec


def message_key(line: str) -> str:
    """What makes two of the collector's lines the same message: their text with the numbers
    left out ("cycle 3: ..." and "cycle 4: ..." are one message)."""
    return re.sub(r"\d+(?:\.\d+)?", "#", line)


class CollectorChild:
    """The `momoscan collect` process serve runs for its tabs.

    Args:
        argv: the collector's command line (`python -m momoscan collect <the tabs' arguments>`).
        err: where its messages and serve's lines about it go (serve's stderr).
    """

    def __init__(self, argv: Sequence[str], *, err: IO[str] | None = None):
        self.argv = list(argv)
        self.err = err if err is not None else sys.stderr
        self.process: subprocess.Popen[bytes] | None = None
        self.returncode: int | None = None
        self._spoke = threading.Event()  # its first line, or its end
        self._stopping = False
        self._seen: dict[str, None] = {}
        self._reader: threading.Thread | None = None
        self._write_lock = threading.Lock()

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def start(self) -> None:
        """Start the collector (its messages are relayed from a thread).

        Raises:
            OSError: the process could not be started.
        """
        extra: dict[str, Any] = {}
        if os.name == "posix":
            extra["process_group"] = 0
            extra["preexec_fn"] = _die_with_parent()
        self.process = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            **extra,
        )
        self._reader = threading.Thread(
            target=self._relay, name="momoscan-collector-stderr", daemon=True
        )
        self._reader.start()

    def wait_started(self, within: float = START_WITHIN) -> bool:
        """Wait until the collector said its first word (it took the role, waits as standby,
        or failed) or ended: False when it did neither within `within` seconds."""
        return self._spoke.wait(within)

    def say(self, text: str) -> None:
        with self._write_lock:
            try:
                self.err.write(text + "\n")
                self.err.flush()
            except (OSError, ValueError):  # serve's stderr is gone (closed terminal)
                pass

    def _relay(self) -> None:
        process = self.process
        assert process is not None and process.stderr is not None
        for raw in process.stderr:
            line = raw.decode("utf-8", errors="replace").rstrip()
            if not line.strip():
                continue
            key = message_key(line)
            if key not in self._seen:
                if len(self._seen) >= REMEMBERED:
                    self._seen.pop(next(iter(self._seen)))
                self._seen[key] = None
                self.say(f"{PREFIX}collector: {line.removeprefix('momoscan: ')}")
            self._spoke.set()  # after its first word is out: serve's URL line comes next
        self.returncode = code = process.wait()
        self._spoke.set()
        if not self._stopping:
            how = f"was killed (signal {-code})" if code < 0 else f"exited with code {code}"
            self.say(
                f"{PREFIX}the collector (momoscan collect, pid {process.pid}) {how}; it is not "
                "restarted: an open tab takes over collecting within a second or so, or else "
                "the next tab opened does."
            )

    def wait(self, timeout: float | None = None) -> int | None:
        """Wait until the collector has ended and all it said is relayed: its exit code, or
        None if it has not ended within `timeout` seconds."""
        if self._reader is None:
            return None
        self._reader.join(timeout)
        return None if self._reader.is_alive() else self.returncode

    def stop(self, grace: float = STOP_GRACE) -> int | None:
        """Stop the collector: SIGTERM, then a kill after `grace` seconds; its exit code
        (None if it was never started). Safe to call more than once."""
        process = self.process
        if process is None:
            return None
        self._stopping = True
        if process.poll() is None:
            try:
                process.terminate()
                process.wait(grace)
            except subprocess.TimeoutExpired:
                self.say(f"{PREFIX}the collector did not stop within {grace:g} s: killed.")
                process.kill()
                process.wait()
            except ProcessLookupError:
                process.wait()
        if self._reader is not None:
            # The pipe ends when its last holder exits: the collector's worker processes
            # follow it within about a second.
            self._reader.join(5.0)
            if not self._reader.is_alive() and process.stderr is not None:
                process.stderr.close()
        return process.returncode
