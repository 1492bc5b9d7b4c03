"""Clean stops and clean errors (issue 10, item 7), with real processes and real signals.

Ctrl-C (SIGINT to the whole foreground process group, worker processes included, as a
terminal sends it) and SIGTERM (to momoscan alone, as `kill` and service managers send it)
end every mode with exit 0, one line and no traceback or `leaked semaphore` warning, and leave
no worker process behind. Database and flag errors are one line and exit 2.
"""

from __future__ import annotations

import os
import pty
import select
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

MOMOSCAN = [sys.executable, "-m", "momoscan"]
NOISE = ("Traceback", "leaked semaphore", "resource_tracker", "KeyboardInterrupt", "Error")


def spawn(args: list[str], **kwargs: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*MOMOSCAN, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # a process group of its own, as a terminal job has
        **kwargs,  # type: ignore[arg-type]
    )


def wait_for_line(process: subprocess.Popen[str], needle: str, timeout: float = 90) -> str:
    """Read stdout until a line containing `needle`."""
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 0.5)
        if ready:
            line = process.stdout.readline()
            seen.append(line)
            if needle in line:
                return line
            if not line and process.poll() is not None:
                break
    raise AssertionError(f"no {needle!r} in {''.join(seen)!r}")


def group_gone(pgid: int, timeout: float = 10) -> bool:
    """True once no process of the group is left (the workers exited with momoscan)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


def finish(process: subprocess.Popen[str]) -> tuple[int, str]:
    _, err = process.communicate(timeout=60)
    return process.returncode, err


def assert_clean(err: str) -> None:
    for word in NOISE:
        assert word not in err, err
    assert err.strip().splitlines()[-1] == "momoscan: stopped.", err


@pytest.mark.parametrize(
    ("how", "json"), [("interrupt", False), ("terminate", False), ("interrupt", True)]
)
def test_headless_loop_stops_cleanly(tmp_path: Path, how: str, json: bool) -> None:
    process = spawn(
        ["--headless", "--db", str(tmp_path / "h.db"), "--demo-size", "40"]
        + (["--json"] if json else [])
    )
    wait_for_line(process, '"refresh"' if json else "cycle 1")
    if how == "interrupt":
        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C: the whole group, workers included
    else:
        process.send_signal(signal.SIGTERM)  # kill: momoscan alone
    code, err = finish(process)
    assert code == 0
    assert_clean(err)
    assert group_gone(process.pid)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_headless_once_stops_cleanly_mid_refresh(tmp_path: Path, sig: signal.Signals) -> None:
    process = spawn(["--headless", "--once", "--db", str(tmp_path / "o.db")])
    assert process.stderr is not None
    # The demo notice comes first; the refresh (21 OCC days on a new database) is under way.
    deadline = time.monotonic() + 60
    while "simulated market" not in (process.stderr.readline() or ""):
        assert time.monotonic() < deadline
    time.sleep(0.5)
    if sig == signal.SIGINT:
        os.killpg(process.pid, sig)
    else:
        process.send_signal(sig)
    code, err = finish(process)
    assert code == 0
    assert_clean(err)
    assert group_gone(process.pid)


def _tui(tmp_path: Path, size: int = 40) -> tuple[subprocess.Popen[bytes], int]:
    master, slave = pty.openpty()
    import fcntl
    import struct
    import termios

    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    process = subprocess.Popen(
        [*MOMOSCAN, "--db", str(tmp_path / "t.db"), "--demo-size", str(size)],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        start_new_session=True,
        env={**os.environ, "TERM": "xterm-256color"},
    )
    os.close(slave)
    return process, master


def _drain(master: int, until: bytes = b"", timeout: float = 60) -> bytes:
    """What the app drew, until `until` appears (or the terminal closes)."""
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
            if until and until in out:
                break
    return out


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_tui_stops_cleanly(tmp_path: Path, how: str) -> None:
    process, master = _tui(tmp_path)
    try:
        _drain(master, b"Top volume")
        time.sleep(3)  # the first refresh, its worker processes running
        if how == "ctrl-c":
            os.write(master, b"\x03")  # the key, as a terminal in raw mode passes it
        else:
            process.send_signal(signal.SIGTERM)
        tail = _drain(master, timeout=30)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
        os.close(master)
    text = tail.decode(errors="replace")
    for word in NOISE:
        assert word not in text, text[-2000:]
    assert group_gone(process.pid)


def test_quitting_during_refreshes_is_quiet_every_time(tmp_path: Path) -> None:
    """`q` at moments spread over the first refresh of 2,000 symbols and the ones after it
    (the universe, the sweep, the OCC backfill, the chains, the reads that follow): exit 0,
    nothing but the app's own screen, every time (issue 14: once in eight runs a progress
    message arriving after the screen was torn down ended in `NoMatches: 'StatusBar'`)."""
    for i, delay in enumerate((0.0, 0.3, 0.7, 1.2, 2.0, 3.0, 4.5, 6.0)):
        # Half the runs on a new database (the first refresh), half on the one before.
        home = tmp_path / str(i % 4)
        home.mkdir(exist_ok=True)
        process, master = _tui(home, size=2000)
        try:
            _drain(master, b"Top volume")
            time.sleep(delay)
            os.write(master, b"q")
            tail = _drain(master, timeout=30)
            code = process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
            os.close(master)
        text = tail.decode(errors="replace")
        assert code == 0, (delay, text[-2000:])
        for word in (*NOISE, "NoMatches"):
            assert word not in text, (delay, text[-2000:])
        assert group_gone(process.pid)


# ---------------------------------------------------------------------------------------------
# One line, exit 2


def run(args: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MOMOSCAN, *args],
        capture_output=True,
        text=True,
        timeout=120,
        **kwargs,  # type: ignore[arg-type]
    )


def assert_one_line(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("momoscan"), lines
    for word in words:
        assert word in lines[0], lines[0]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--demo-speed", "nan"], ("--demo-speed", "finite", "--help")),
        (["--demo-speed", "inf"], ("--demo-speed", "finite")),
        (["--demo-speed", "0"], ("--demo-speed", "greater than 0")),
        (["--interval", "nan"], ("--interval", "finite")),
        (["--interval", "-5"], ("--interval",)),
        (["--interval", "soon"], ("--interval", "not a number")),
        (["--no-such-flag"], ("unrecognized", "--help")),
        (["--exit-code-on-new-entrant"], ("needs --once", "--help")),
        (["--demo-size", "60000"], ("--demo-size",)),
    ],
)
def test_bad_flags_are_one_line_and_exit_2(
    tmp_path: Path, args: list[str], words: tuple[str, ...]
) -> None:
    assert_one_line(run([*args, "--db", str(tmp_path / "x.db")]), *words)


@pytest.mark.parametrize("value", ["inf", "nan", "-inf", "0.0"])
def test_non_finite_or_non_positive_config_numbers(tmp_path: Path, value: str) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f"[demo]\nspeed = {value}\n")
    result = run(["--config", str(config), "--headless", "--once", "--db", str(tmp_path / "x.db")])
    assert_one_line(result, "[demo] speed", "config.toml:2")


def test_missing_directory_for_db(tmp_path: Path) -> None:
    db = tmp_path / "no" / "such" / "dir" / "x.db"
    result = run(["--headless", "--once", "--db", str(db)])
    assert_one_line(result, "does not exist", str(db.parent))
    assert not db.parent.exists()


def test_read_only_database(tmp_path: Path) -> None:
    db = tmp_path / "ro.db"
    first = run(["--headless", "--once", "--json", "--db", str(db), "--demo-size", "30"])
    assert first.returncode == 0, first.stderr
    immutable = os.geteuid() == 0
    if immutable:
        # Root writes to a mode 444 file anyway: make it immutable, as a read-only mount is.
        made = subprocess.run(["chattr", "+i", str(db)], capture_output=True)
        if made.returncode:
            pytest.skip("running as root without chattr: cannot make a file read-only")
    else:
        db.chmod(0o444)
    try:
        result = run(["--headless", "--once", "--db", str(db)])
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(db)], check=True)
    assert_one_line(result, "read-only", str(db))


def test_locked_database(tmp_path: Path) -> None:
    db = tmp_path / "locked.db"
    first = run(["--headless", "--once", "--json", "--db", str(db), "--demo-size", "30"])
    assert first.returncode == 0, first.stderr
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another program in the middle of a long write
    try:
        started = time.monotonic()
        result = run(["--headless", "--once", "--db", str(db)])
        assert time.monotonic() - started < 30
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert_one_line(result, "locked", str(db))


def test_a_hangup_after_quitting_ends_the_process(tmp_path: Path) -> None:
    """`q`, then the terminal closes while the app is exiting (an SSH connection dropping):
    the process ends (issue 24: it never did). A closing terminal hangs up the tty and sends
    SIGHUP then SIGCONT; SIGCONTs follow until the process is gone. Without tui/hangup.py,
    Textual's writer thread dies on the first write to the hung-up terminal and the exit
    waits forever on its full queue (this test fails so). The other half, a SIGCONT that
    restarts the input thread after application mode was left, was reproduced in tmux only
    (an orphan spinning at 60-70 % of a core); this harness does not hit its window."""
    process, master = _tui(tmp_path)
    try:
        _drain(master, b"Top volume")
        time.sleep(1)
        os.write(master, b"q")
        time.sleep(0.1)
        os.close(master)  # the terminal goes: reads on its other end return nothing from now
        master = -1
        process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 30
        while process.poll() is None and time.monotonic() < deadline:
            process.send_signal(signal.SIGCONT)
            time.sleep(0.02)
        assert process.poll() == 0, "momoscan did not exit after the hangup"
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        if master >= 0:
            os.close(master)
    assert group_gone(process.pid)
