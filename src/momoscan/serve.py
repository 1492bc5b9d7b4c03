"""`momoscan serve`: the terminal UI in a browser tab, through textual-serve.

textual-serve runs a web server whose page is a terminal (xterm.js); each browser tab that
connects starts its own `momoscan` process, driven over a WebSocket. momoscan serves on the
loopback address by default: there is no password, so an address other machines can reach
needs `--allow-remote`, and a warning says who can then see the screen.

textual-serve (and its aiohttp) are imported only on this path.
"""

from __future__ import annotations

import argparse
import ipaddress
import shlex
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .config import ConfigError, load_settings

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


def build_serve_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="momoscan serve",
        description="Serve the terminal UI to a browser tab (textual-serve). Each tab runs its "
        "own momoscan. Loopback only unless --allow-remote.",
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
        help="allow an address other machines can reach (anyone who can reach it sees and "
        "drives momoscan: there is no password)",
    )
    # What the app in each tab is started with (as for `momoscan`).
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


def app_arguments(args: argparse.Namespace) -> list[str]:
    """The `momoscan` arguments each tab's app is started with."""
    out: list[str] = []
    for name in ("config", "db", "demo_size", "demo_seed", "demo_speed", "demo_faults", "interval"):
        value = getattr(args, name)
        if value is not None:
            out += [f"--{name.replace('_', '-')}", str(value)]
    out += [flag for flag in ("--demo", "--force") if getattr(args, flag[2:])]
    return out


def plan(args: argparse.Namespace, python: str = sys.executable) -> ServePlan:
    """What `momoscan serve` will run, from its arguments.

    Raises:
        ValueError: the arguments cannot be served as given (the message is one sentence).
    """
    if not 1 <= args.port <= 65535:
        raise ValueError(f"--port {args.port} is not a port: give one from 1 to 65535.")
    warning = ""
    if not is_loopback(args.host):
        if not args.allow_remote:
            raise ValueError(
                f"--host {args.host} is not a loopback address: anyone who can reach it would "
                "see and drive momoscan, with no password; add --allow-remote to serve it anyway."
            )
        warning = (
            f"Serving on {args.host}:{args.port}, which is not a loopback address: anyone who "
            "can reach this port sees your screen and can drive momoscan (there is no password)."
        )
    argv = [python, "-m", "momoscan", *app_arguments(args)]
    command = subprocess.list2cmdline(argv) if sys.platform == "win32" else shlex.join(argv)
    return ServePlan(args.host, args.port, command, warning)


def _server(serve_plan: ServePlan) -> Any:
    """A textual-serve Server whose page connects back to the address the browser used (the
    library writes its own `public_url` into the page, which for 0.0.0.0 no browser can reach).
    """
    import aiohttp_jinja2
    from aiohttp import web
    from textual_serve.server import Server

    class MomoscanServer(Server):
        @aiohttp_jinja2.template("app_index.html")
        async def handle_index(self, request: web.Request) -> dict[str, Any]:
            font_size = request.query.get("fontsize", "16")
            base = f"{request.scheme}://{request.host}"
            ws = ("wss" if request.scheme == "https" else "ws") + f"://{request.host}/ws"
            static = request.app.router["static"].url_for(filename="/")
            return {
                "font_size": int(font_size) if font_size.isdigit() else 16,
                "app_websocket_url": ws,
                "config": {"static": {"url": f"{base}{static}".rstrip("/") + "/"}},
                "application": {"name": "momoscan"},
            }

    return MomoscanServer(
        serve_plan.command, host=serve_plan.host, port=serve_plan.port, title="momoscan"
    )


def serve_main(argv: Sequence[str]) -> int:
    """`momoscan serve`."""
    args = build_serve_parser().parse_args(argv)
    try:
        load_settings(args.config)  # a bad config is said once, here, not in every tab
        serve_plan = plan(args)
    except ConfigError as exc:
        print(f"momoscan: config error: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"momoscan serve: {exc}", file=sys.stderr)
        return 2
    if serve_plan.warning:
        print(f"momoscan: WARNING: {serve_plan.warning}", file=sys.stderr)
    server = _server(serve_plan)
    shown = f"[{serve_plan.host}]" if ":" in serve_plan.host else serve_plan.host
    print(
        f"momoscan: open http://{shown}:{serve_plan.port} in a browser (each tab runs its own "
        "momoscan); Ctrl+C stops.",
        file=sys.stderr,
    )
    try:
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
    return 0
