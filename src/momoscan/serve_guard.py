"""Who may use `momoscan serve`: the checks every request passes before textual-serve sees it.

textual-serve accepts any `Origin` and `Host` on its page and its `/ws`: while it runs, a site
the user visits could open the WebSocket (or reach it by DNS rebinding), read the screen, send
keys and, live, spend credits. `Guard` decides, for each request, and `guard_middleware` puts it
in front of every route (page, WebSocket, downloads, static files). Refusals are a 403 whose page
says why and what to do (never silent), as jupyter_server's `check_origin`, `check_host` and
token do:

1. **Origin.** A request that carries `Origin` (browsers send it on every WebSocket and every
   cross-site request) must come from the address it was sent to: `scheme://Host`. Another
   site's page, a sandboxed frame (`Origin: null`) or a rebinding page all fail it.
2. **Host.** On a loopback address (and not behind a proxy), `Host` must name this machine:
   `localhost`, a name under `.localhost` or a loopback address. A DNS-rebinding page reaches
   127.0.0.1 under its own name, which fails it.
3. **Token.** A random token (`secrets.token_urlsafe`, new each run) is printed in the URL at
   start, as Jupyter does. A request without it gets in only from a loopback peer whose `Host`
   names this machine, and never behind a proxy (whose peer is always the proxy itself). The
   first request that carries it as `?token=` gets an HttpOnly, SameSite=Strict cookie (named
   for the port: cookies do not tell ports apart), and the page is redirected to its URL
   without the token (out of the address bar, the history and Referer headers). The page's own
   WebSocket, whose URL textual-serve's script builds and appends its own query to, and later
   loads carry the cookie instead.

With `behind_proxy`, the first `X-Forwarded-Proto` and `X-Forwarded-Host` (as nginx and Caddy
set them) say the scheme and address the browser used: the Origin check compares with them and
the page builds `https://` and `wss://` URLs from them. Without the flag they are ignored, since
anyone could send them.

Pages also say `X-Frame-Options: DENY` and `frame-ancestors 'none'`: a site that framed the app
could not read it, but could trick clicks into it.
"""

from __future__ import annotations

import hmac
import html
import ipaddress
import logging
import re
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler, Middleware

from .sanitize import clean

log = logging.getLogger("momoscan.serve")

TOKEN_PARAM = "token"

#: Headers on every answer: no framing (clickjacking), no Referer to other sites.
PAGE_HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
}

#: What a Host header may hold: a name or IPv4 address, or a bracketed IPv6 address, and a port.
_HOST = re.compile(r"^(?:[a-z0-9._~%!$&'()*+,;=-]+|\[[0-9a-f:.]+\])(?::\d{1,5})?$", re.I)


def new_token() -> str:
    """A token for one run: 43 URL-safe characters (256 bits)."""
    return secrets.token_urlsafe(32)


def is_loopback_name(name: str) -> bool:
    """Whether a host (no port; IPv6 with or without brackets) can only mean this machine:
    `localhost`, a name under `.localhost` (RFC 6761; browsers resolve those themselves, so no
    DNS answer can rebind them) or a loopback address."""
    name = name.strip("[]").lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def peer_is_loopback(remote: str | None) -> bool:
    """Whether the connection's peer address (aiohttp's `request.remote`) is this machine.
    `None` (a Unix socket, or unknown) is not."""
    if not remote:
        return False
    try:
        address = ipaddress.ip_address(remote.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


@dataclass(frozen=True)
class Address:
    """The scheme and authority a browser used, as it would write an Origin."""

    scheme: str  # "http" or "https"
    host: str  # as in the Host header: name or address, and the port if not the default
    hostname: str  # lowercased, IPv6 without brackets
    port: int

    @property
    def origin(self) -> str:
        return f"{self.scheme}://{self.host}"


def parse_address(scheme: str, host: str) -> Address | None:
    """`scheme` and a Host header's value as an Address, or None if they are not one."""
    scheme = scheme.strip().lower()
    host = host.strip()
    if scheme not in ("http", "https") or not _HOST.match(host):
        return None
    parts = urlsplit(f"{scheme}://{host}")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:  # a port above 65535
        return None
    if not parts.hostname:
        return None
    return Address(scheme, host.lower(), parts.hostname, port)


def same_origin(origin: str, address: Address) -> bool:
    """Whether an `Origin` header names `address` (default ports filled in on both sides)."""
    parts = urlsplit(origin.strip())
    if parts.path or parts.query or parts.fragment or parts.username or parts.password:
        return False
    try:
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower(), -1)
    except ValueError:
        return False
    return (parts.scheme.lower(), parts.hostname or "", port) == (
        address.scheme,
        address.hostname,
        address.port,
    )


def _first(value: str | None) -> str:
    """The first of a comma-separated header's values (a chain of proxies appends its own)."""
    return (value or "").split(",", 1)[0].strip()


@dataclass(frozen=True)
class Refusal:
    """Why a request is refused: the page's title and sentences, and a line for the log."""

    status: int
    title: str
    message: str
    logged: str  # may hold outside text, cleaned

    def response(self, request: web.Request) -> web.Response:
        return refusal_response(request, self.status, self.title, self.message)


@dataclass(frozen=True)
class Guard:
    """The checks of this module's docstring, for one server.

    Attributes:
        token: the run's token (never logged; printed only in the URL at start).
        loopback_bind: the server listens on a loopback address.
        behind_proxy: trust `X-Forwarded-Proto` and `X-Forwarded-Host`; require the token from
            everyone.
        cookie_name: the cookie that carries the token after the first load.
    """

    token: str
    loopback_bind: bool
    behind_proxy: bool = False
    cookie_name: str = "momoscan-serve"

    def address(self, request: web.Request) -> Address | None:
        """The scheme and address the browser used, or None if the headers give none."""
        scheme, host = request.scheme, request.headers.get(hdrs.HOST, "")
        if self.behind_proxy:
            scheme = _first(request.headers.get("X-Forwarded-Proto")) or scheme
            host = _first(request.headers.get("X-Forwarded-Host")) or host
        return parse_address(scheme, host)

    def _matches(self, candidate: str | None) -> bool:
        return bool(candidate) and hmac.compare_digest(
            (candidate or "").encode("utf-8", "replace"), self.token.encode()
        )

    def token_in_query(self, request: web.Request) -> bool:
        return self._matches(request.query.get(TOKEN_PARAM))

    def has_token(self, request: web.Request) -> bool:
        """The token came with the request: as `?token=` or in the cookie."""
        return self.token_in_query(request) or self._matches(request.cookies.get(self.cookie_name))

    def refusal(self, request: web.Request) -> Refusal | None:
        """Why `request` may not be served, or None when it may."""
        address = self.address(request)
        if address is None:
            shown = request.headers.get(hdrs.HOST, "")
            if self.behind_proxy:
                shown += f" (forwarded: {request.headers.get('X-Forwarded-Proto', '')}"
                shown += f"://{request.headers.get('X-Forwarded-Host', '')})"
            return Refusal(
                400,
                "Not an address",
                "The request did not say which address it was sent to (its Host header, or "
                "the proxy's X-Forwarded-Host and X-Forwarded-Proto, is missing or malformed).",
                f"bad Host {clean(shown)!r}",
            )
        origin = request.headers.get(hdrs.ORIGIN)
        if origin is not None and not same_origin(origin, address):
            return Refusal(
                403,
                "Another site's request",
                f"This request came from a page of another site, not from {address.origin}: "
                "momoscan serve answers only its own page. Open momoscan's address yourself.",
                f"Origin {clean(origin)!r} is not {clean(address.origin)!r}",
            )
        if self.loopback_bind and not self.behind_proxy and not is_loopback_name(address.hostname):
            return Refusal(
                403,
                "Not this machine's name",
                "This server listens on this machine only, and the browser reached it under "
                "another name (as a DNS-rebinding page would). Open the URL that momoscan serve "
                "printed, with 127.0.0.1 or localhost.",
                f"Host {clean(address.host)!r} is not a loopback name",
            )
        if self.has_token(request):
            return None
        if (
            not self.behind_proxy
            and peer_is_loopback(request.remote)
            and is_loopback_name(address.hostname)
        ):
            return None
        return Refusal(
            403,
            "The token is needed",
            "This momoscan serve needs the token it printed when it started: open the whole "
            "URL it printed (ending in ?token=...). A browser keeps the token once it has "
            "loaded that URL.",
            "no valid token from "
            + ("the proxy" if self.behind_proxy else clean(request.remote or "an unknown peer")),
        )


def guard_middleware(guard: Guard) -> Middleware:
    """An aiohttp middleware that refuses what `guard` refuses, trades a `?token=` on a page
    load for a cookie and a redirect, and adds PAGE_HEADERS to every answer."""

    @web.middleware
    async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
        refusal = guard.refusal(request)
        if refusal is not None:
            log.warning("refused %s %s: %s", request.method, clean(request.path), refusal.logged)
            return refusal.response(request)
        address = guard.address(request)
        secure = address is not None and address.scheme == "https"
        upgrade = request.headers.get(hdrs.UPGRADE, "").lower() == "websocket"
        if guard.token_in_query(request) and request.method == "GET" and not upgrade:
            # The page (or a download): the token moves to a cookie, out of the URL.
            query = [(k, v) for k, v in request.query.items() if k != TOKEN_PARAM]
            response: web.StreamResponse = web.Response(
                status=303, headers={hdrs.LOCATION: str(request.rel_url.with_query(query))}
            )
            response.set_cookie(
                guard.cookie_name,
                guard.token,
                path="/",
                httponly=True,
                samesite="Strict",
                secure=secure,
            )
        else:
            response = await handler(request)
        if not response.prepared:  # a WebSocket's headers are already sent
            response.headers.update(PAGE_HEADERS)
        return response

    return check


def wants_html(request: web.Request) -> bool:
    return "text/html" in request.headers.get(hdrs.ACCEPT, "")


def refusal_response(
    request: web.Request, status: int, title: str, message: str, *, retry: int = 0
) -> web.Response:
    """A short page (HTML for a browser, plain text for anything else) with our own words
    only: no outside text is echoed. `retry` > 0 reloads the page after that many seconds."""
    headers = dict(PAGE_HEADERS)
    if retry:
        headers["Retry-After"] = str(retry)
    if not wants_html(request):
        return web.Response(status=status, text=f"{title}: {message}\n", headers=headers)
    refresh = f'<meta http-equiv="refresh" content="{retry}">' if retry else ""
    body = f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>momoscan: {html.escape(title)}</title>{refresh}
<style>
body {{ background: #0c181f; color: rgba(255,255,255,.9); margin: 0; height: 100vh;
  display: flex; align-items: center; justify-content: center;
  font-family: "Roboto Mono", menlo, monospace; }}
div {{ max-width: 640px; padding: 32px; background: #12232d; line-height: 1.5; }}
h1 {{ font-size: 20px; margin-top: 0; }}
</style></head>
<body><div><h1>momoscan serve: {html.escape(title)}</h1><p>{html.escape(message)}</p></div></body>
</html>
"""
    return web.Response(status=status, text=body, content_type="text/html", headers=headers)
