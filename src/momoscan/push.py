"""Alerts pushed to the trader's phone or chat, through Apprise (issue 26, item 4).

`[alerts] push` lists Apprise URLs, one a channel: `ntfys://ntfy.sh/your-topic`,
`pover://USER@TOKEN` (Pushover), `tgram://BOTTOKEN/CHAT_ID` (Telegram),
`discord://WEBHOOK_ID/WEBHOOK_TOKEN`, `slack://...`, `mailtos://...`, `json://host/path` (a plain
JSON webhook). The collector pushes, whoever watches it, so one alert is one message; a viewer
never pushes (collector.py holds the `Pusher`).

- **Grouping.** The first alert of a burst opens a window of `group_seconds`; what fires within
  it is one message: its title says how many and of what kind, its body has a line each (the
  first `MAX_LINES`, then "and N more").
- **Rate cap.** At most `per_minute` messages in any 60 s span. What fires while the cap holds
  waits and goes with the next message: folded in, never dropped.
- **Off the event loop.** Apprise is synchronous (requests, smtplib): the Pusher's own thread
  groups and sends, each channel in a thread of its own bounded by `timeout`, so a cycle never
  waits for a push.
- **Failures.** A channel that fails is a warning in the log naming it by scheme and host only
  (the rest of an Apprise URL is often the token, and some put it where the host goes:
  `tgram://BOTTOKEN/...`), with Apprise's reason stripped of the URL's parts; while it keeps
  failing, one info line a message. The other channels and the next message go as usual.
- **Outside text.** Symbols, names and messages go through `sanitize.clean`: another app shows
  them.

Apprise is imported on the first push, never by a viewer or a run without channels. Its own log
lines never reach momoscan's log (Telegram's debug line prints the bot's URL, token and all):
they are caught as the reason of a failure, and redacted.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlsplit

from .market_hours import ET
from .models import AlertEvent
from .redact import Redactor
from .sanitize import clean

if TYPE_CHECKING:
    from .config import Settings

log = logging.getLogger(__name__)

#: Seconds one channel may take to take a message (connect and answer) before it counts as
#: failed; its socket timeouts are set to this too.
SEND_TIMEOUT = 10.0
#: A message lists this many alerts, then says how many more it carries.
MAX_LINES = 10
#: The span of the rate cap (seconds).
RATE_SPAN = 60.0
#: The rule of the scanner's own entries (entrants.SCANNER; not imported: that module brings
#: the store's queries, which a push needs none of).
SCANNER = "scanner"
#: Where the services' URL syntax is documented, for the messages that point to it.
APPRISE_URLS = "https://github.com/caronc/apprise/wiki"

# A host that is a network address: a name with a dot, an IPv4 or IPv6 address, localhost.
# Anything else in the host's place is a token or a topic (`tgram://BOTTOKEN`, `ntfy://TOPIC`).
_NETWORK_HOST = re.compile(r"^(localhost|[0-9a-f:]*:[0-9a-f:.]+|[\w-]+(\.[\w-]+)+)$", re.I)
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


def channel_label(url: str) -> str:
    """What a log line or a screen shows of an Apprise URL: `scheme://host`.

    The host only when it is a network address (a name with a dot, an IP address, localhost);
    where a service puts a token or a topic in its place, `scheme://…`. Never a user, password,
    path, query or port.
    """
    match = _SCHEME.match(url.strip())
    if match is None:
        return "(not a URL)"
    scheme = match.group(1).lower()
    try:
        host = urlsplit(url.strip()).hostname or ""
    except ValueError:
        host = ""
    if host and _NETWORK_HOST.match(host):
        return f"{scheme}://[{host}]" if ":" in host else f"{scheme}://{host}"
    return f"{scheme}://…"


def url_secrets(url: str) -> list[str]:
    """The parts of an Apprise URL that can be a secret, for a `Redactor`: the whole URL, its
    user and password, a host that is not a network address, each path segment and each query
    value (raw and percent-decoded)."""
    found = [url, url.strip()]
    try:
        parts = urlsplit(url.strip())
        found += [parts.netloc, parts.username or "", parts.password or ""]
        host = parts.hostname or ""
    except ValueError:
        return found
    if host and not _NETWORK_HOST.match(host):
        found.append(host)
    found += [segment for segment in parts.path.split("/") if segment]
    found += [value for _, value in parse_qsl(parts.query, keep_blank_values=False)]
    return found + [unquote(s) for s in found if "%" in s]


# ---------------------------------------------------------------------------------------------
# Apprise, on first use, with its log kept to itself.


#: The lines Apprise logs for the send under way in this context. A context variable, not the
#: thread: Apprise 2 sends from its own pool, into which it copies the caller's context.
_CAUGHT: ContextVar[list[str] | None] = ContextVar("momoscan_push_caught", default=None)


class _AppriseLog(logging.Handler):
    """Apprise's warnings and errors, kept for the send that caused them (the reason of a
    failure); with the `apprise` logger's propagation off, nothing of Apprise reaches
    momoscan's log."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)

    def emit(self, record: logging.LogRecord) -> None:
        lines = _CAUGHT.get()
        if lines is not None:
            try:
                lines.append(record.getMessage())
            except Exception:  # a bad format string in a library's line: not ours to raise
                lines.append(str(record.msg))

    @contextmanager
    def catch(self) -> Iterator[list[str]]:
        """The lines Apprise logs meanwhile, for this context's send."""
        lines: list[str] = []
        token = _CAUGHT.set(lines)
        try:
            yield lines
        finally:
            _CAUGHT.reset(token)


_apprise_log: _AppriseLog | None = None
_apprise_setup = threading.Lock()


def _apprise_catching() -> tuple[Any, _AppriseLog]:
    """The apprise module and the handler that keeps its log lines (installed once a process:
    the `apprise` logger is the process's)."""
    global _apprise_log
    with _apprise_setup:
        if _apprise_log is None:
            logger = logging.getLogger("apprise")
            handler = _AppriseLog()
            logger.addHandler(handler)
            logger.propagate = False
            # requests' urllib3 logs each request's path at DEBUG, and a path can be the
            # token (`json://host/TOKEN`): its warnings only, as logs.py does for httpx.
            pool = logging.getLogger("urllib3")
            pool.setLevel(max(pool.level, logging.WARNING))
            _apprise_log = handler
        import apprise

    return apprise, _apprise_log


class Channel:
    """One `[alerts] push` URL. `label` is all that is ever shown of it.

    Args:
        url: the Apprise URL (a secret: never logged, shown or stored).
        number: its place in the list (from 1), for lines that tell channels apart.
        timeout: seconds the service may take (its connect and read timeouts).
    """

    def __init__(self, url: str, number: int = 1, *, timeout: float = SEND_TIMEOUT):
        self._url = url.strip()
        self.number = number
        self.label = channel_label(self._url)
        self.timeout = timeout
        self.redact = Redactor(url_secrets(self._url))
        #: The last send failed (the next failure is an info line, not another warning).
        self.failing = False

    def __repr__(self) -> str:
        return f"Channel({self.number}, {self.label})"  # never the URL

    def send(self, title: str, body: str) -> str:
        """Send one message, blocking (call it from a worker thread). Never raises.

        Returns:
            "" when the service took it, else why not in one line (redacted of the URL's
            parts; Apprise's own words where it gave a reason).
        """
        try:
            apprise, catcher = _apprise_catching()
        except Exception as exc:  # Apprise missing or broken in this install
            return self.redact(f"Apprise could not be loaded ({type(exc).__name__}: {exc})")
        with catcher.catch() as lines:
            try:
                # One channel a send, one at a time (async_mode off); a plugin a send, since a
                # send that timed out may still hold the previous one.
                asset = apprise.AppriseAsset(async_mode=False)
                plugin = apprise.Apprise.instantiate(self._url, asset=asset)
                if plugin is None:
                    return (
                        f"not a URL Apprise can send to ({self._reason(lines)}); the services' "
                        f"URLs: {APPRISE_URLS}"
                    )
                for name in ("socket_connect_timeout", "socket_read_timeout"):
                    current = getattr(plugin, name, None)
                    if isinstance(current, int | float) and current > 0:
                        setattr(plugin, name, min(float(current), self.timeout))
                one = apprise.Apprise(asset=asset)
                one.add(plugin)
                # Plain text: Apprise escapes it for a service that reads HTML or Markdown.
                ok = bool(one.notify(body=body, title=title, body_format=apprise.NotifyFormat.TEXT))
            except Exception as exc:
                return self.redact(clean(f"{type(exc).__name__}: {exc}"))
        if ok:
            return ""
        return self._reason(lines) or "the service did not take the message"

    def _reason(self, lines: Sequence[str]) -> str:
        """Apprise's last warning, one line, cleaned and redacted."""
        return self.redact(clean(lines[-1])).strip() if lines else ""


# ---------------------------------------------------------------------------------------------
# Messages: what a burst of alerts becomes.


@dataclass(frozen=True)
class Message:
    """One push: `count` alerts in a title and a body of a line each."""

    title: str
    body: str
    count: int


def _kind(event: AlertEvent) -> str:
    """What an alert is, for a title: the scanner's board ("Top movers") or the rule's name."""
    return clean(event.name) if event.name else "alert"


def alert_line(event: AlertEvent) -> str:
    """One alert in a message's body: `09:41 AAPL entered the top movers (#4): +12.3% at 5.43,
    RVol 4.2x` (the market clock's time, ET); a named rule's name before its sentence."""
    clock = datetime.fromtimestamp(event.at, ET).strftime("%H:%M")
    named = f"{clean(event.name)}: " if event.name and event.rule != SCANNER else ""
    return f"{clock} {named}{clean(event.message)}"


#: Whose alerts a message carries, when they come from the simulated market: a trader trying
#: the demo must never take its alerts on the phone for the market's.
DEMO_ORIGIN = "momoscan DEMO (simulated market)"


def compose(
    events: Sequence[AlertEvent], *, max_lines: int = MAX_LINES, origin: str = "momoscan"
) -> Message:
    """The message for alerts that go together (at least one): the title says whose (`origin`:
    `DEMO_ORIGIN` in the demo), how many and of what kind (`momoscan: 20 alerts: 12 Top
    movers, 8 Top volume`), the body lists the first `max_lines` as they fired, then "and N
    more"."""
    ordered = sorted(events, key=lambda e: e.at)
    if len(ordered) == 1:
        event = ordered[0]
        title = f"{origin}: {clean(event.symbol)} ({_kind(event)})"
    else:
        kinds = Counter(_kind(e) for e in ordered).most_common()
        shown = ", ".join(f"{n} {kind}" for kind, n in kinds[:3])
        more = ", …" if len(kinds) > 3 else ""
        title = f"{origin}: {len(ordered)} alerts: {shown}{more}"
    lines = [alert_line(e) for e in ordered[:max_lines]]
    if len(ordered) > max_lines:
        lines.append(f"and {len(ordered) - max_lines} more")
    return Message(title, "\n".join(lines), len(ordered))


class Batcher:
    """When alerts go, and together with which: grouping and the rate cap, on a clock the
    caller gives (seconds; any monotonic clock). Not thread-safe: the Pusher holds a lock.

    Guarantees: every alert added is in exactly one message; at most `per_minute` messages
    are taken in any `RATE_SPAN` (unless forced, at exit); a message is never taken before
    `group_seconds` after the first alert it carries (unless forced).
    """

    def __init__(
        self,
        per_minute: int,
        group_seconds: float,
        *,
        max_lines: int = MAX_LINES,
        origin: str = "momoscan",
    ):
        if per_minute < 1:
            raise ValueError("per_minute must be at least 1")
        self.origin = origin
        self.per_minute = per_minute
        self.group_seconds = max(0.0, group_seconds)
        self.max_lines = max_lines
        self.pending: list[AlertEvent] = []
        self._opened: float | None = None
        self._taken: deque[float] = deque()

    def add(self, events: Sequence[AlertEvent], now: float) -> None:
        if not events:
            return
        if not self.pending:
            self._opened = now
        self.pending.extend(events)

    def due(self) -> float | None:
        """When the pending alerts may go (clock seconds), or None when none wait."""
        if not self.pending or self._opened is None:
            return None
        at = self._opened + self.group_seconds
        if len(self._taken) >= self.per_minute:
            at = max(at, self._taken[-self.per_minute] + RATE_SPAN)
        return at

    def take(self, now: float, *, force: bool = False) -> Message | None:
        """The message due at `now` (it leaves the pending alerts), or None."""
        while self._taken and self._taken[0] <= now - RATE_SPAN:
            self._taken.popleft()
        due = self.due()
        if due is None or (now < due and not force):
            return None
        message = compose(self.pending, max_lines=self.max_lines, origin=self.origin)
        self.pending = []
        self._opened = None
        self._taken.append(now)
        return message


# ---------------------------------------------------------------------------------------------
# The pusher.


@dataclass(frozen=True)
class Outcome:
    """How one channel took one message: `error` is "" when it did."""

    channel: Channel
    error: str

    @property
    def ok(self) -> bool:
        return not self.error


class Pusher:
    """Pushes the collector's alerts to every channel, grouped and capped (see the module).

    `add` never blocks: it hands the alerts to the pusher's thread, which starts with the first.

    Args:
        urls: the Apprise URLs (`[alerts] push`, variables already filled in).
        per_minute: messages at most in any 60 s.
        group_seconds: alerts within this of the first of a burst go as one message.
        scanner: push the scanner's own entries too (else only the rules' alerts).
        timeout: seconds a channel may take for a message.
        clock: monotonic seconds, for grouping and the cap (tests pass a fake one and `wake`).
    """

    def __init__(
        self,
        urls: Sequence[str],
        *,
        per_minute: int = 6,
        group_seconds: float = 10.0,
        scanner: bool = True,
        timeout: float = SEND_TIMEOUT,
        clock: Callable[[], float] = time.monotonic,
        max_lines: int = MAX_LINES,
        demo: bool = False,
    ):
        """`demo`: the alerts come from the simulated market, and every title says so."""
        self.channels = [
            Channel(url, number, timeout=timeout) for number, url in enumerate(urls, start=1)
        ]
        self.scanner = scanner
        self.timeout = timeout
        self.clock = clock
        self.batcher = Batcher(
            per_minute,
            group_seconds,
            max_lines=max_lines,
            origin=DEMO_ORIGIN if demo else "momoscan",
        )
        #: Messages sent (to at least one channel) and sends that failed, for tests and status.
        self.sent = 0
        self.failed = 0
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closing = False
        self._busy = False

    @classmethod
    def from_settings(cls, settings: Settings, *, demo: bool = False) -> Pusher | None:
        """The pusher `[alerts]` asks for, or None when it lists no channel; `demo`: the
        simulated market's alerts, so titled."""
        alerts = settings.alerts
        if not alerts.push:
            return None
        return cls(
            alerts.push,
            per_minute=alerts.push_per_minute,
            group_seconds=alerts.push_group_seconds,
            scanner=alerts.push_scanner,
            demo=demo,
        )

    def __repr__(self) -> str:
        return f"Pusher({', '.join(c.label for c in self.channels)})"

    def add(self, events: Sequence[AlertEvent]) -> None:
        """Push these alerts (grouped with any that wait). Returns at once; never raises."""
        wanted = [e for e in events if self.scanner or e.rule != SCANNER]
        if not wanted or not self.channels:
            return
        with self._cond:
            if self._closing:
                return
            self.batcher.add(wanted, self.clock())
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="momoscan-push", daemon=True)
                self._thread.start()
            self._cond.notify()

    def wake(self) -> None:
        """Look at the clock again now (a test moved its fake clock)."""
        with self._cond:
            self._cond.notify()

    @property
    def idle(self) -> bool:
        """Nothing waits and nothing is being sent."""
        with self._cond:
            return not self.batcher.pending and not self._busy

    def close(self, timeout: float | None = None) -> None:
        """Send what waits now (grouping and cap aside: the run ends) and stop the thread,
        waiting at most `timeout` seconds (default: a send's timeout and a second)."""
        with self._cond:
            self._closing = True
            self._cond.notify()
            thread = self._thread
        if thread is not None:
            thread.join(self.timeout + 1.0 if timeout is None else timeout)

    async def aclose(self) -> None:
        """`close` from the event loop, on a worker thread."""
        import anyio

        await anyio.to_thread.run_sync(self.close)

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    now = self.clock()
                    message = self.batcher.take(now, force=self._closing)
                    if message is not None:
                        self._busy = True
                        break
                    if self._closing:
                        return
                    due = self.batcher.due()
                    # A hint only: `take` decides on the clock; `add`, `wake` and `close`
                    # notify. Capped so a fake clock moved without `wake` is seen too.
                    self._cond.wait(1.0 if due is None else min(1.0, max(0.01, due - now)))
            try:
                self.deliver(message)
            except Exception:  # a bug here must not stop the pushes that follow
                log.exception("a push could not be sent")
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def deliver(self, message: Message, *, report: bool = True) -> list[Outcome]:
        """Send `message` to every channel at once, each in a thread of its own, waiting at
        most `timeout` seconds in all; blocking (the pusher's thread, or `alerts test`).

        With `report`, each failure is logged (a warning when a channel starts failing, an
        info line while it goes on; scheme and host only).
        """
        results: dict[int, str] = {}

        def one(channel: Channel) -> None:
            results[channel.number] = channel.send(message.title, message.body)

        threads = [
            threading.Thread(target=one, args=(c,), name=f"momoscan-push-{c.number}", daemon=True)
            for c in self.channels
        ]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + self.timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        outcomes = []
        for channel in self.channels:
            error = results.get(channel.number)
            if error is None:
                error = f"no answer within {self.timeout:g} s"
            outcomes.append(Outcome(channel, error))
            if report:
                self._report(channel, error, message)
        if any(o.ok for o in outcomes):
            self.sent += 1
        return outcomes

    def _report(self, channel: Channel, error: str, message: Message) -> None:
        where = f"push channel {channel.number} ({channel.label})"
        if not error:
            if channel.failing:
                log.info("%s sends again", where)
            channel.failing = False
            return
        self.failed += 1
        what = f"{message.count} alert{'s' if message.count != 1 else ''}"
        if channel.failing:
            log.info("%s still fails (%s not pushed there): %s", where, what, error)
        else:
            log.warning("%s failed (%s not pushed there): %s", where, what, error)
        channel.failing = True
