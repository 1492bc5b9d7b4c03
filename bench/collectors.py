"""Two collectors, one key, two databases (issue 25, item 6): does the key's plan hold?

Two `momoscan --headless --force` processes run in live mode on one Twelve Data key
(`TWELVEDATA_API_KEY`), each with its own database, against a strict stand-in of Twelve Data
on 127.0.0.1: the simulated market's `SimServer` (the wire formats of /quote, /api_usage, Cboe
and OCC), whose credit meter allows `--plan` credits (default 120) per fixed window aligned to
the wall-clock minute (floor(time / 60)) and refuses a /quote past it with Twelve Data's in-body
429. The stand-in serves each process under a path of its own (`/p0`, `/p1`: the base URLs in
its config), which is how it tells their requests apart; the stream is off (no stand-in for it).

Two runs of `--seconds` each (default 300), one after the other, each on a fresh stand-in:

- shared: both processes with one user state directory (`XDG_STATE_HOME`), so one key ledger
  (`<state>/momoscan/credits/<hash of the key>`): the product as shipped.
- control: each process with a state directory of its own, so each has its own ledger and
  believes it owns the whole plan: momoscan before the key ledger.
- one-db: both processes on ONE database, each with a state directory of its own (no shared
  ledger): the collector's lock alone must keep the second one from spending (it waits as a
  standby); expect one process spending and 0 refused.

Printed as JSON (progress on stderr): per run, per process, the /quote requests, the credits
the stand-in accepted and the requests it refused (429; `api_usage_over_plan` apart: the
/api_usage calls, a credit each that the engine does not take from its budget, made when the
window's credits were spent), and the run's totals, the most
credits accepted in one window (never over the plan: the stand-in refuses instead, so
`refused` is the figure to read) and each process's exit code.

`--micro` instead times the ledger's file work (a reserve and a read, 60 and 300 entries),
the figures quoted in src/momoscan/sources/key_ledger.py.

    .venv/bin/python bench/collectors.py                # about 10 minutes
    .venv/bin/python bench/collectors.py --seconds 200 --runs shared
    .venv/bin/python bench/collectors.py --micro
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from momoscan.clock import RealClock
from momoscan.simulated.market import SimMarket
from momoscan.simulated.transport import SimServer
from momoscan.sources.key_ledger import KeyLedger

KEY = "bench-collectors-key-0000"
PROCESSES = ("p0", "p1")


class Tally:
    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()  # /quote requests
        self.credits: Counter[str] = Counter()  # credits the meter accepted (every endpoint)
        self.refused: Counter[str] = Counter()  # requests refused (429)
        # /api_usage requests that found the window's credits spent: the stand-in answers
        # them and charges nothing (Twelve Data's behaviour there is not documented).
        self.usage_over: Counter[str] = Counter()
        self.per_window: Counter[int] = Counter()  # credits accepted per fixed window


class _Handler(BaseHTTPRequestHandler):
    server: _StandIn
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        parsed = urlparse(self.path)
        who = parsed.path.strip("/").split("/", 1)[0]
        headers = {k.lower(): v for k, v in self.headers.items()}
        url = f"http://{headers.get('host', '127.0.0.1')}{self.path}"
        server = self.server
        meter = server.sim.meter
        # One request at a time: the meter's counters before and after belong to it alone.
        with server.lock:
            rejected, spent = meter.rejected, meter.used_today
            reply = server.sim.respond("GET", url, headers)
            accepted = meter.used_today - spent
            tally = server.tally
            if parsed.path.endswith("/quote"):
                tally.requests[who] += 1
            over = meter.rejected - rejected
            if parsed.path.endswith("/api_usage"):
                tally.usage_over[who] += over
            else:
                tally.refused[who] += over
            tally.credits[who] += accepted
            tally.per_window[math.floor(time.time() / meter.window)] += accepted
            if over:
                asked = parse_qs(parsed.query).get("symbol", [""])[0].count(",") + 1
                what = parsed.path.rsplit("/", 1)[-1]
                print(f"  over the plan: {who} /{what} ({asked})", file=sys.stderr, flush=True)
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("content-length", str(len(reply.body)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(reply.body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _StandIn(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, plan: int) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.sim = SimServer(SimMarket(7, 0, RealClock()), plan_limit=plan)
        self.lock = threading.Lock()
        self.tally = Tally()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


def config_for(url: str, who: str) -> str:
    base = f"{url}/{who}"
    return (
        f'[twelvedata]\nbase_url = "{base}"\n'
        f'[cboe]\nbase_url = "{base}"\nrequests_per_minute = 10000\n'
        f'[occ]\nbase_url = "{base}"\nrequests_per_minute = 10000\n'
        '[universe]\nsource = "builtin"\n[stream]\nenabled = false\n'
    )


def run(
    name: str, seconds: float, plan: int, shared: bool, work: Path, one_db: bool = False
) -> dict[str, Any]:
    server = _StandIn(plan)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    root = work / name
    children: list[tuple[str, subprocess.Popen[bytes], Path]] = []
    try:
        for who in PROCESSES:
            home = root / who
            home.mkdir(parents=True)
            (home / "config.toml").write_text(config_for(server.url, who))
            state = root / "state" if shared else home / "state"
            env = {
                k: v
                for k, v in os.environ.items()
                if k not in ("MOMOSCAN_CONFIG", "NASDAQ_DATA_LINK_API_KEY")
            }
            env.update(
                TWELVEDATA_API_KEY=KEY,
                HOME=str(home),
                XDG_CONFIG_HOME=str(home / "config"),
                XDG_DATA_HOME=str(home / "data"),
                XDG_CACHE_HOME=str(home / "cache"),
                XDG_STATE_HOME=str(state),
            )
            args = [sys.executable, "-m", "momoscan", "--headless", "--force", "--json"]
            db = root / "momoscan.db" if one_db else home / "momoscan.db"
            args += ["--config", str(home / "config.toml"), "--db", str(db)]
            with (home / "stdout").open("wb") as out, (home / "stderr").open("wb") as err:
                child = subprocess.Popen(args, env=env, stdout=out, stderr=err)
            children.append((who, child, home))
        print(f"{name}: {len(children)} collectors for {seconds:g} s", file=sys.stderr, flush=True)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            time.sleep(min(30.0, max(0.0, deadline - time.monotonic())))
            with server.lock:
                seen = dict(server.tally.credits)
            print(f"  {name}: credits so far {seen}", file=sys.stderr, flush=True)
        for _, child, _ in children:
            child.send_signal(signal.SIGTERM)  # SIGINT is ignored in a background job
        codes = {}
        for who, child, _ in children:
            try:
                codes[who] = child.wait(30)
            except subprocess.TimeoutExpired:
                child.kill()
                codes[who] = child.wait()
    finally:
        for _, child, _ in children:
            if child.poll() is None:
                child.kill()
                child.wait()
        server.shutdown()
        server.server_close()
    tally = server.tally
    windows = sorted(tally.per_window.items())
    full = [credits for _, credits in windows[1:-1]]  # the first and last are partial
    result: dict[str, Any] = {
        "shared_ledger": shared,
        "one_database": one_db,
        "seconds": seconds,
        "plan": plan,
        "processes": {
            who: {
                "requests": tally.requests[who],
                "credits": tally.credits[who],
                "refused": tally.refused[who],
                "api_usage_over_plan": tally.usage_over[who],
                "exit": codes.get(who),
                "tracebacks": (home / "stderr").read_text(errors="replace").count("Traceback"),
            }
            for who, _, home in children
        },
        "requests": sum(tally.requests.values()),
        "credits": sum(tally.credits.values()),
        "refused": sum(tally.refused.values()),
        "api_usage_over_plan": sum(tally.usage_over.values()),
        "max_credits_in_a_window": max((c for _, c in windows), default=0),
        "full_windows": full,
    }
    if shared:
        ledgers = list((root / "state").rglob("credits/*"))
        result["ledger_files"] = sorted(p.name for p in ledgers)
        result["ledger_bytes"] = max(
            (p.stat().st_size for p in ledgers if not p.name.endswith(".lock")), default=0
        )
    return result


def micro() -> dict[str, Any]:
    """Microseconds a reserve and a read take with 60 and 300 entries in the file."""
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        ledger = KeyLedger(Path(tmp) / "k")
        now = time.time()
        for entries in (60, 300):
            ledger.path.unlink(missing_ok=True)
            for i in range(entries):
                ledger.reserve(1, 1_000_000, 61.0, now=now - 60 + i * 60 / entries)
            body = ledger.path.read_bytes()
            reserve, read = [], []
            for _ in range(2000):
                ledger.path.write_bytes(body)
                start = time.perf_counter()
                ledger.reserve(1, 1_000_000, 61.0, now=now)
                reserve.append(time.perf_counter() - start)
                start = time.perf_counter()
                ledger.spent(now, 61.0)
                read.append(time.perf_counter() - start)
            reserve.sort()
            read.sort()
            out[f"{entries}_entries"] = {
                "bytes": len(body),
                "reserve_us_median": round(reserve[1000] * 1e6),
                "reserve_us_p99": round(reserve[1980] * 1e6),
                "reserve_us_max": round(reserve[-1] * 1e6),
                "read_us_median": round(read[1000] * 1e6),
                "read_us_p99": round(read[1980] * 1e6),
            }
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=300.0, help="each run's length")
    parser.add_argument("--plan", type=int, default=120, help="credits per fixed minute")
    parser.add_argument(
        "--runs",
        nargs="+",
        choices=("shared", "control", "one-db"),
        default=["shared", "control", "one-db"],
    )
    parser.add_argument("--micro", action="store_true", help="time the ledger's file work only")
    args = parser.parse_args()
    if args.micro:
        print(json.dumps(micro(), indent=2))
        return 0
    results = {}
    with tempfile.TemporaryDirectory(prefix="momoscan-collectors-") as tmp:
        for name in args.runs:
            results[name] = run(
                name, args.seconds, args.plan, name == "shared", Path(tmp), one_db=name == "one-db"
            )
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
