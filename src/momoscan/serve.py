"""`momoscan serve`: the terminal UI in a browser tab, through textual-serve.

textual-serve runs a web server whose page is a terminal (xterm.js); each browser tab that
connects starts a `momoscan` process, driven over a WebSocket. serve first binds its address
(a port in use fails there, with one line and exit code 2, before anything starts), then
starts one collector for the tabs' database (`momoscan collect` with the tabs' arguments:
serve_collector.py), so each tab comes up as a viewer of it: one refresh loop, one credit
budget and, in the demo, one simulated market behind any number of tabs. The URL is printed
once the server accepts connections on the bound sockets, never before. momoscan serves on the
loopback address by default; an address other machines can reach needs `--allow-remote`, and a
warning says who can then see the screen. Every request passes `serve_guard.Guard` (Origin and
Host checks, the token printed with the URL), and at most `max_sessions` tabs run at once
(`serve_app.MomoscanServer`).

textual-serve (and its aiohttp) are imported only on this path.
"""

from __future__ import annotations

import argparse
import errno
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
from .exits import EXIT_FAILED, EXIT_OK, EXIT_USAGE
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
        epilog="Exit codes: 0 stopped with Ctrl+C; 1 the collector could not start; 2 usage "
        "or config error, or an address it cannot listen on (a port in use).",
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
    """`momoscan serve`: its exit code (exits.py): EXIT_OK once stopped (Ctrl+C, SIGTERM),
    EXIT_USAGE for a usage or config error or an address it cannot listen on (a port in
    use), EXIT_FAILED when the collector cannot be started."""
    args = build_serve_parser().parse_args(argv)
    try:
        settings = load_settings(args.config)  # a bad config is said once, here, not in every tab
        serve_plan = plan(args, max_sessions=settings.serve.max_sessions)
    except ConfigError as exc:
        print(f"momoscan: config error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ValueError as exc:
        print(f"momoscan serve: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        # Bound and listening before anything starts: a taken port fails here, before a
        # collector exists, and no other process can take the port between this check and
        # the server (which serves these very sockets).
        sockets = listen(serve_plan.host, serve_plan.port)
    except OSError as exc:
        print(
            f"momoscan serve: {why_not_listening(serve_plan.host, serve_plan.port, exc)}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if serve_plan.warning:
        print(f"momoscan: WARNING: {serve_plan.warning}", file=sys.stderr)
    try:
        return _run(args, serve_plan, sockets)
    finally:
        for sock in sockets:
            sock.close()


def _run(args: argparse.Namespace, serve_plan: ServePlan, sockets: list[socket.socket]) -> int:
    """Start the collector, then serve on `sockets` (bound and listening) until stopped; the
    URL is printed once the server accepts on them. The collector is stopped however this
    ends."""
    from .serve_guard import new_token

    token = new_token()
    server = _server(serve_plan, token)
    shown = urls(serve_plan, token)
    where = " or ".join(shown)
    if serve_plan.behind_proxy:
        where = f"your proxy's address followed by /?token={token} (here: {shown[0]})"
    collector = CollectorChild(serve_plan.collect)
    restore_signals = _stop_on_signals()

    def listening() -> None:
        # Through the collector's relay, whose lock keeps its lines from cutting into this one.
        collector.say(
            f"momoscan: open {where} in a browser (each tab is a viewer of one collector, "
            f"momoscan collect pid {collector.pid}; at most {serve_plan.max_sessions} tabs at "
            "once); Ctrl+C stops."
        )

    try:
        try:
            collector.start()
        except OSError as exc:
            print(f"momoscan serve: cannot start the collector ({exc}).", file=sys.stderr)
            return EXIT_FAILED
        collector.wait_started()
        server.serve(debug=args.verbose, sockets=sockets, on_listening=listening)
    except OSError as exc:  # the sockets are bound: not expected, but said as one line
        print(
            f"momoscan serve: cannot serve on {serve_plan.host}:{serve_plan.port} "
            f"({exc.strerror or exc}).",
            file=sys.stderr,
        )
        return EXIT_FAILED
    except KeyboardInterrupt:
        pass
    finally:
        collector.stop()
        restore_signals()
    return EXIT_OK


def listen(host: str, port: int, backlog: int = 128) -> list[socket.socket]:
    """Sockets bound to `host`:`port` and listening, as the server's own bind would make them
    (asyncio's `create_server`): one for each address `host` resolves to (`localhost`: IPv4
    and IPv6), IPv6 ones IPv6-only, SO_REUSEADDR on POSIX (a port left in TIME_WAIT by a
    stopped serve is free; one that another process listens on is not). Non-blocking, for
    the event loop. `backlog`: connections queued until the server accepts them (aiohttp's
    default).

    Raises:
        OSError: an address cannot be bound (`errno.EADDRINUSE`: the port is in use;
            `socket.gaierror`: `host` does not resolve); none is left open.
    """
    infos = socket.getaddrinfo(
        host.strip("[]"), port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )
    sockets: list[socket.socket] = []
    seen: set[tuple[int, Any]] = set()
    try:
        for family, kind, proto, _name, address in infos:
            if (family, address) in seen:
                continue
            seen.add((family, address))
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            if os.name == "posix":
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6 and hasattr(socket, "IPPROTO_IPV6"):
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
            sock.listen(backlog)
            sock.setblocking(False)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def why_not_listening(host: str, port: int, exc: OSError) -> str:
    """The one line saying why serve cannot listen on `host`:`port`, and what to do."""
    where = f"[{host.strip('[]')}]:{port}" if ":" in host else f"{host}:{port}"
    if isinstance(exc, socket.gaierror):
        return f"cannot listen on {where}: {host} does not resolve; choose another --host."
    if exc.errno == errno.EADDRNOTAVAIL:
        return (
            f"cannot listen on {where}: {host} is not an address of this machine; choose "
            "another --host."
        )
    if exc.errno == errno.EADDRINUSE:
        free = _free_port_after(host, port)
        example = f" (e.g. --port {free}, free now)" if free is not None else ""
        return (
            f"cannot listen on {where}: the port is in use (another momoscan serve, or "
            f"another program); choose another with --port N{example}."
        )
    if exc.errno == errno.EACCES and port < 1024:
        return (
            f"cannot listen on {where}: ports below 1024 need privileges; choose one from "
            "1024 up with --port N."
        )
    return f"cannot listen on {where} ({exc.strerror or exc}); choose another --port or --host."


def _free_port_after(host: str, port: int, tries: int = 20) -> int | None:
    """The first of the `tries` ports after `port` that `host` can listen on now, or None."""
    for candidate in range(port + 1, min(port + 1 + tries, 65536)):
        try:
            taken = listen(host, candidate, backlog=1)
        except OSError:
            continue
        for sock in taken:
            sock.close()
        return candidate
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
