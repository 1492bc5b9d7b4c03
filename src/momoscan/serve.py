"""`momoscan serve`: the terminal UI in a browser tab, through textual-serve.

textual-serve runs a web server whose page is a terminal (xterm.js); each browser tab that
connects starts a `momoscan` process, driven over a WebSocket. Before it listens, serve starts
one collector for the tabs' database (`momoscan collect` with the tabs' arguments:
serve_collector.py), so each tab comes up as a viewer of it: one refresh loop, one credit
budget and, in the demo, one simulated market behind any number of tabs. momoscan serves on the
loopback address by default; an address other machines can reach needs `--allow-remote`, and a
warning says who can then see the screen. Every request passes `serve_guard.Guard` (Origin and
Host checks, the token printed with the URL), and at most `max_sessions` tabs run at once
(`serve_app.MomoscanServer`).

textual-serve (and its aiohttp) are imported only on this path.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import shlex
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .config import ConfigError, ServeSettings, load_settings
from .serve_collector import CollectorChild

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


def build_serve_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="momoscan serve",
        description="Serve the terminal UI to browser tabs (textual-serve). One collector "
        "(momoscan collect, started with serve and stopped with it) fills the database; each "
        "tab is a viewer of it: it spends no credits and runs no simulated market of its own. "
        "Loopback only unless --allow-remote; other machines need the token printed with the "
        "URL.",
        epilog="Exit codes: 0 stopped with Ctrl+C, 1 the server could not start (port in "
        "use), 2 usage or config error.",
    )
    parser.add_argument(
        "--host",
        default=DEFAULT_HOST,
        metavar="ADDRESS",
        help=f"address to listen on (default {DEFAULT_HOST}, this machine only)",
    )
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, metavar="N", help=f"port (default {DEFAULT_PORT})"
    )
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow an address other machines can reach (they need the token printed with "
        "the URL; the traffic is not encrypted: see --behind-proxy)",
    )
    parser.add_argument(
        "--max-sessions",
        type=int,
        metavar="N",
        help="browser tabs served at once, each a viewer of the one collector (default "
        f"[serve] max_sessions, {ServeSettings.max_sessions}); more see a page saying the "
        "server is full",
    )
    parser.add_argument(
        "--behind-proxy",
        action="store_true",
        help="served through a reverse proxy (TLS, a password): trust its X-Forwarded-Proto "
        "and X-Forwarded-Host, and require the token from every browser",
    )
    # What the collector and the app in each tab are started with (as for `momoscan`).
    parser.add_argument("--config", metavar="PATH", help="config file (as for momoscan)")
    parser.add_argument("--db", metavar="PATH", help="SQLite database file (as for momoscan)")
    parser.add_argument("--demo", action="store_true", help="run on the simulated market")
    parser.add_argument("--demo-size", type=int, metavar="N", help="simulated universe size")
    parser.add_argument("--demo-seed", type=int, metavar="N", help="seed of the simulated market")
    parser.add_argument("--demo-speed", type=float, metavar="X", help="simulated seconds a second")
    parser.add_argument("--demo-faults", metavar="SPEC", help="faults the simulated market serves")
    parser.add_argument(
        "--interval", type=float, metavar="SECONDS", help="seconds between refresh cycles"
    )
    parser.add_argument("--force", action="store_true", help="spend credits while closed")
    parser.add_argument("-v", "--verbose", action="store_true", help="log each connection")
    return parser


def is_loopback(host: str) -> bool:
    """Whether only this machine can reach `host`: `localhost` or a loopback address."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may well resolve to a public address


@dataclass(frozen=True)
class ServePlan:
    host: str
    port: int
    command: str  # the shell command each tab runs
    warning: str  # "" on a loopback address
    max_sessions: int = ServeSettings.max_sessions
    behind_proxy: bool = False
    collect: tuple[str, ...] = ()  # the collector's command line (no shell)


def app_arguments(args: argparse.Namespace) -> list[str]:
    """The `momoscan` arguments each tab's app, and the collector, are started with."""
    out: list[str] = []
    for name in ("config", "db", "demo_size", "demo_seed", "demo_speed", "demo_faults", "interval"):
        value = getattr(args, name)
        if value is not None:
            out += [f"--{name.replace('_', '-')}", str(value)]
    out += [flag for flag in ("--demo", "--force") if getattr(args, flag[2:])]
    return out


def plan(
    args: argparse.Namespace,
    python: str = sys.executable,
    max_sessions: int = ServeSettings.max_sessions,
) -> ServePlan:
    """What `momoscan serve` will run, from its arguments; `max_sessions` is the config's
    `[serve] max_sessions`, which `--max-sessions` overrides.

    Raises:
        ValueError: the arguments cannot be served as given (the message is one sentence).
    """
    if not 1 <= args.port <= 65535:
        raise ValueError(f"--port {args.port} is not a port: give one from 1 to 65535.")
    if args.max_sessions is not None:
        if args.max_sessions < 1:
            raise ValueError(
                f"--max-sessions {args.max_sessions} would serve no one: give 1 or more."
            )
        max_sessions = args.max_sessions
    warning = ""
    if not is_loopback(args.host):
        if not args.allow_remote:
            raise ValueError(
                f"--host {args.host} is not a loopback address: anyone who can reach it could "
                "try to drive momoscan, over unencrypted HTTP; add --allow-remote to serve it "
                "anyway."
            )
        warning = (
            f"Serving on {args.host}:{args.port}, which is not a loopback address: anyone who "
            "can reach this port and has the token printed below sees your screen and can "
            "drive momoscan, and the traffic is not encrypted (for TLS and a password, put it "
            "behind a proxy: see the README)."
        )
    arguments = app_arguments(args)
    argv = [python, "-m", "momoscan", *arguments]
    # textual-serve runs the command through the shell; `exec` makes the process it holds
    # momoscan itself, so that killing an app that will not quit kills momoscan, not a shell.
    command = (
        subprocess.list2cmdline(argv) if sys.platform == "win32" else "exec " + shlex.join(argv)
    )
    return ServePlan(
        args.host,
        args.port,
        command,
        warning,
        max_sessions,
        bool(args.behind_proxy),
        collect=(python, "-m", "momoscan", "collect", *arguments),
    )


def urls(serve_plan: ServePlan, token: str) -> list[str]:
    """The URLs to print, token included: the address served, or for an unspecified one
    (0.0.0.0, ::) this machine's loopback address and its host name."""
    suffix = f":{serve_plan.port}/?token={token}"
    host = serve_plan.host
    try:
        unspecified = ipaddress.ip_address(host.strip("[]")).is_unspecified
    except ValueError:
        unspecified = False
    if unspecified:
        return [f"http://127.0.0.1{suffix}", f"http://{socket.gethostname()}{suffix}"]
    shown = f"[{host.strip('[]')}]" if ":" in host else host
    return [f"http://{shown}{suffix}"]


def _server(serve_plan: ServePlan, token: str) -> Any:
    """The textual-serve server with momoscan's guard and cap (imported here: only this path
    loads textual-serve and aiohttp)."""
    from .serve_app import MomoscanServer
    from .serve_guard import Guard

    guard = Guard(
        token=token,
        loopback_bind=is_loopback(serve_plan.host),
        behind_proxy=serve_plan.behind_proxy,
        cookie_name=f"momoscan-serve-{serve_plan.port}",
    )
    return MomoscanServer(
        serve_plan.command,
        host=serve_plan.host,
        port=serve_plan.port,
        guard=guard,
        max_sessions=serve_plan.max_sessions,
    )


def serve_main(argv: Sequence[str]) -> int:
    """`momoscan serve`."""
    from .serve_guard import new_token

    args = build_serve_parser().parse_args(argv)
    try:
        settings = load_settings(args.config)  # a bad config is said once, here, not in every tab
        serve_plan = plan(args, max_sessions=settings.serve.max_sessions)
    except ConfigError as exc:
        print(f"momoscan: config error: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"momoscan serve: {exc}", file=sys.stderr)
        return 2
    if serve_plan.warning:
        print(f"momoscan: WARNING: {serve_plan.warning}", file=sys.stderr)
    token = new_token()
    server = _server(serve_plan, token)
    shown = urls(serve_plan, token)
    where = " or ".join(shown)
    if serve_plan.behind_proxy:
        where = f"your proxy's address followed by /?token={token} (here: {shown[0]})"
    taken = _port_taken(serve_plan.host, serve_plan.port)
    if taken is not None:
        print(
            f"momoscan serve: cannot listen on {serve_plan.host}:{serve_plan.port} ({taken}); "
            "choose another --port or --host.",
            file=sys.stderr,
        )
        return 1
    collector = CollectorChild(serve_plan.collect)
    restore_signals = _stop_on_signals()
    try:
        try:
            collector.start()
        except OSError as exc:
            print(f"momoscan serve: cannot start the collector ({exc}).", file=sys.stderr)
            return 1
        collector.wait_started()
        print(
            f"momoscan: open {where} in a browser (each tab is a viewer of one collector, "
            f"momoscan collect pid {collector.pid}; at most {serve_plan.max_sessions} tabs at "
            "once); Ctrl+C stops.",
            file=sys.stderr,
        )
        server.serve(debug=args.verbose)
    except OSError as exc:
        print(
            f"momoscan serve: cannot listen on {serve_plan.host}:{serve_plan.port} "
            f"({exc.strerror or exc}); choose another --port or --host.",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        pass
    finally:
        collector.stop()
        restore_signals()
    return 0


def _port_taken(host: str, port: int) -> str | None:
    """Why `host`:`port` cannot be listened on (in use, say), or None: asked before the
    collector starts, so that a taken port fails at once. (The server's own bind still
    decides: another process may take the port in between.)"""
    try:
        infos = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)
    except OSError:
        return None  # the server's bind says why, in its words
    family, kind, proto, _name, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        if os.name == "posix":  # as aiohttp binds: a port in TIME_WAIT is free
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            return exc.strerror or str(exc)
    return None


def _stop_on_signals() -> Callable[[], None]:
    """Make SIGHUP (serve's terminal closed) and SIGTERM stop serve as Ctrl-C does, so that
    the collector is stopped too (while the server runs, textual-serve handles SIGTERM itself,
    the same way); returns what puts the old handlers back."""
    if not hasattr(signal, "SIGHUP"):  # Windows
        return lambda: None

    def stop(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGHUP, signal.SIGTERM)}

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore
