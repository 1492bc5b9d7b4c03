"""textual-serve's `Server` with momoscan's guard in front and a cap on sessions.

Written against textual-serve 1.1.x (tested with 1.1.3); it leans on the library's internals,
so a new minor version needs a look. It overrides:

- `_make_app` (private), to add the guard's middleware to the aiohttp application;
- `handle_index`, so that the page's URLs come from the address the browser used, `https` and
  `wss` behind a TLS proxy (textual-serve writes its own `public_url`, which for 0.0.0.0 no
  browser can reach and behind a proxy is `http://`: the blank page of textual-serve issue #10);
- `handle_websocket`, rewritten after the library's: the cap, terminal sizes within bounds, and
  an app that does not quit within `QUIT_GRACE` of the quit packet is killed, waited for and its
  pipes closed (the library waits forever, and leaves the process's transport unclosed);
- `on_startup`: the library's banner shows a URL without the token;
- `serve`, after the library's: it serves sockets serve bound beforehand (so that a port in use
  fails before anything starts, and no other process can take the port in between) and calls
  back once the server accepts on them (aiohttp's `print` hook, called after its sites start),
  which is when serve prints the URL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import Callable, Sequence
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from textual_serve.app_service import AppService
from textual_serve.server import Server, to_int

from .redact import RedactingFilter, Redactor
from .serve_guard import Guard, guard_middleware, refusal_response

log = logging.getLogger("momoscan.serve")

#: Seconds after which the "full" page reloads itself: a tab that was just closed (or the one
#: being reloaded) frees its place once its app has quit.
FULL_RETRY = 5
#: Seconds an app has to quit once its tab has gone, before it is killed.
QUIT_GRACE = 10.0
#: The terminal sizes a tab may ask for (columns, rows): Textual keeps a buffer of that size.
MAX_WIDTH, MAX_HEIGHT = 1000, 500


class BoundedAppService(AppService):
    """textual-serve's AppService, whose `stop` ends in bounded time and leaves nothing open."""

    async def stop(self) -> None:
        """Send the app the quit packet and give it `QUIT_GRACE` seconds to end, then kill it;
        wait for the process and close its transport. Safe to call more than once."""
        process = self._process
        loop = asyncio.get_running_loop()
        deadline = loop.time() + QUIT_GRACE
        # textual-serve's stop waits for the app's output to end; cancelled on the timeout, its
        # reading task returns quietly, so wait_for may return rather than raise: the process's
        # own end is what is checked below.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(super().stop(), QUIT_GRACE)
        self._task = None
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()  # end of input: Textual's web driver quits on it too
        try:
            await asyncio.wait_for(process.wait(), max(deadline - loop.time(), 0.1))
        except TimeoutError:
            log.warning("an app did not quit within %g s of its tab closing: killed", QUIT_GRACE)
            with contextlib.suppress(ProcessLookupError):
                process.kill()  # momoscan itself: the command starts with `exec`
            await process.wait()
        # asyncio offers no public close for a subprocess's transport; without it, the
        # transport is closed when collected, perhaps after its loop (a warning, or an error).
        transport = getattr(process, "_transport", None)
        if transport is not None:
            transport.close()


class MomoscanServer(Server):
    """A textual-serve Server that answers only what `guard` lets through, and runs at most
    `max_sessions` apps at once (each tab's WebSocket starts a momoscan, a viewer of the one
    collector serve runs: about 65 MB; bench/serve_tabs.py)."""

    def __init__(
        self, command: str, *, host: str, port: int, guard: Guard, max_sessions: int
    ) -> None:
        super().__init__(command, host=host, port=port, title="momoscan")
        self.guard = guard
        self.max_sessions = max_sessions
        self.sessions = 0  # WebSockets whose app is running (counted on the event loop)

    async def _make_app(self) -> web.Application:
        app = await super()._make_app()
        app.middlewares.append(guard_middleware(self.guard))
        return app

    def initialize_logging(self) -> None:
        super().initialize_logging()
        if not self.debug:
            # Each request and session is logged only with -v (textual-serve logs them at
            # INFO); warnings and errors always.
            logging.getLogger().setLevel(logging.WARNING)
        # aiohttp's access log writes each request line, `?token=` included.
        for handler in logging.getLogger().handlers:
            handler.addFilter(RedactingFilter(Redactor([self.guard.token])))

    async def on_startup(self, app: web.Application) -> None:
        """Nothing: `momoscan serve` prints its own URL, with the token."""

    def serve(
        self,
        debug: bool = False,
        *,
        sockets: Sequence[socket.socket] = (),
        on_listening: Callable[[], None] | None = None,
    ) -> None:
        """Serve until SIGINT or SIGTERM, as textual-serve's `serve` does, on `sockets` (bound
        and listening; the server's own host and port when there are none); `on_listening` is
        called once the server accepts connections.

        Raises:
            OSError: without `sockets`, the host and port cannot be bound.
        """
        self.debug = debug
        self.initialize_logging()
        loop = asyncio.new_event_loop()  # run_app makes it current, and closes it at the end
        with contextlib.suppress(NotImplementedError):  # Windows: Ctrl+C is KeyboardInterrupt
            loop.add_signal_handler(signal.SIGINT, self.request_exit)
            loop.add_signal_handler(signal.SIGTERM, self.request_exit)
        if self.debug:
            log.info("Running in debug mode. You may use textual dev tools.")

        def started(*_banner: object) -> None:  # aiohttp's banner, once its sites started
            if on_listening is not None:
                on_listening()

        where: dict[str, Any] = (
            {"sock": list(sockets)} if sockets else {"host": self.host, "port": self.port}
        )
        web.run_app(self._make_app(), handle_signals=False, loop=loop, print=started, **where)

    def full(self, request: web.Request) -> web.Response:
        return refusal_response(
            request,
            503,
            "All sessions are in use",
            f"momoscan serve is running {self.max_sessions} sessions, its limit (each tab runs "
            "a momoscan that views the one collector). Close another tab of it; this page tries "
            "again every "
            f"{FULL_RETRY} seconds. The limit is --max-sessions, or [serve] max_sessions in "
            "the config file.",
            retry=FULL_RETRY,
        )

    @aiohttp_jinja2.template("app_index.html")
    async def handle_index(self, request: web.Request) -> dict[str, Any] | web.StreamResponse:
        if self.sessions >= self.max_sessions:
            return self.full(request)
        address = self.guard.address(request)
        if address is None:  # the guard refuses these before they get here
            raise web.HTTPBadRequest(text="no Host header")
        font_size = min(max(to_int(request.query.get("fontsize", "16"), 16), 6), 64)
        static = request.app.router["static"].url_for(filename="/")
        ws = ("wss" if address.scheme == "https" else "ws") + f"://{address.host}/ws"
        return {
            "font_size": font_size,
            "app_websocket_url": ws,
            "config": {"static": {"url": f"{address.origin}{static}".rstrip("/") + "/"}},
            "application": {"name": "momoscan"},
        }

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        """One tab's app, driven over the WebSocket, as textual-serve 1.1.3 does it, within
        the cap. The app starts only once the upgrade is accepted."""
        if self.sessions >= self.max_sessions:
            # Refused before the upgrade, so no app starts. (The declared type is the base
            # class's; a plain response is what aiohttp sends for a refused upgrade.)
            log.warning("refused a session: %d of %d in use", self.sessions, self.max_sessions)
            return self.full(request)  # type: ignore[return-value]
        self.sessions += 1
        log.info("session started (%d of %d)", self.sessions, self.max_sessions)
        websocket = web.WebSocketResponse(heartbeat=15)
        width = min(max(to_int(request.query.get("width", "80"), 80), 1), MAX_WIDTH)
        height = min(max(to_int(request.query.get("height", "24"), 24), 1), MAX_HEIGHT)
        app_service: BoundedAppService | None = None

        async def close() -> None:
            await websocket.close()

        try:
            await websocket.prepare(request)
            app_service = BoundedAppService(
                self.command,
                write_bytes=websocket.send_bytes,
                write_str=websocket.send_str,
                close=close,
                download_manager=self.download_manager,
                debug=self.debug,
            )
            await app_service.start(width, height)
            await self._process_messages(websocket, app_service)
        except asyncio.CancelledError:  # the server is stopping
            await websocket.close()
        except Exception:  # a malformed message from the page, a write to a gone tab
            log.exception("a session failed")
        finally:
            try:
                if app_service is not None:
                    await app_service.stop()
            finally:
                self.sessions -= 1
                log.info("session ended (%d of %d)", self.sessions, self.max_sessions)
        return websocket
