"""The simulated market as a real HTTP server on 127.0.0.1, for proving the live path.

The demo mounts the simulated market under momoscan's clients as an httpx transport; this
serves the same answers (Twelve Data, Cboe, OCC and Nasdaq Trader wire formats, faults
included) over a real socket, so that live mode, with its real HTTP stack, timeouts and retries,
can be pointed at it: set the `base_url`s and the `[halts]` URLs to what it prints. A trickled
body is really trickled, byte pieces with pauses on the socket.

    python -m momoscan.simulated.http_server --port 8765 --faults all

Stdlib `http.server` (threaded): a test and development tool, never exposed beyond loopback.
"""

from __future__ import annotations

import argparse
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ..clock import MarketClock, RealClock
from .faults import FaultPlan
from .market import SimMarket
from .transport import SimServer


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        host = self.headers.get("host", "127.0.0.1")
        url = f"http://{host}{self.path}"
        headers = {k.lower(): v for k, v in self.headers.items()}
        reply = self.server.sim.respond("GET", url, headers)
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("content-length", str(len(reply.body)))
        self.end_headers()
        body, trickle = reply.body, reply.trickle
        try:
            if trickle is None:
                self.wfile.write(body)
                return
            size = max(1, min(trickle.chunk, len(body) // (trickle.pauses + 1)))
            position = 0
            for _ in range(trickle.pauses):
                if position >= len(body):
                    break
                self.wfile.write(body[position : position + size])
                self.wfile.flush()
                position += size
                time.sleep(trickle.delay)
            self.wfile.write(body[position:])
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up on a slow answer: what its timeout is for

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    sim: SimServer
    verbose: bool = False


class ProviderServer:
    """The simulated providers on `http://127.0.0.1:<port>`, served from a background thread.

    Args:
        port: 0 picks a free one (`url` says which).
    """

    def __init__(
        self,
        *,
        seed: int = 7,
        size: int = 0,
        clock: MarketClock | None = None,
        faults: FaultPlan | None = None,
        plan_limit: int = 1597,
        port: int = 0,
        verbose: bool = False,
    ):
        market = SimMarket(seed, size, clock or RealClock())
        self.sim = SimServer(market, plan_limit=plan_limit, faults=faults)
        self._http = _Server(("127.0.0.1", port), _Handler)
        self._http.sim = self.sim
        self._http.verbose = verbose
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._http.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> ProviderServer:
        self._thread = threading.Thread(
            target=self._http.serve_forever, name="momoscan-providers", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()

    def __enter__(self) -> ProviderServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def config_lines(self) -> str:
        """TOML pointing momoscan's live clients here."""
        lines = [
            f'[{section}]\nbase_url = "{self.url}"' for section in ("twelvedata", "cboe", "occ")
        ]
        lines.append(
            f'[halts]\nhalts_url = "{self.url}/rss.aspx?feed=tradehalts"\n'
            f'ssr_url = "{self.url}/dynamic/symdir/shorthalts/"'
        )
        return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m momoscan.simulated.http_server",
        description="Serve the simulated market's Twelve Data, Cboe, OCC and Nasdaq Trader "
        "answers on 127.0.0.1, for pointing momoscan's live mode at (any API key is accepted).",
    )
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--size", type=int, default=0, help="universe size, as --demo-size")
    parser.add_argument("--faults", default="", help='a fault spec, as --demo-faults ("all")')
    parser.add_argument("--plan-limit", type=int, default=1597, help="credits per minute")
    parser.add_argument("-v", "--verbose", action="store_true", help="log each request")
    args = parser.parse_args(argv)
    try:
        faults = FaultPlan.parse(args.faults, seed=args.seed) if args.faults else None
    except ValueError as exc:
        parser.error(str(exc))
    server = ProviderServer(
        seed=args.seed,
        size=args.size,
        faults=faults,
        plan_limit=args.plan_limit,
        port=args.port,
        verbose=args.verbose,
    )
    print(f"Simulated providers on {server.url} (faults: {faults or 'none'}). Config:")
    print(server.config_lines())
    print("Set TWELVEDATA_API_KEY to anything. Ctrl-C stops.", flush=True)
    try:
        server._http.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server._http.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
