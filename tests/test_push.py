"""Push channels through Apprise (push.py): real local receivers on 127.0.0.1 (a JSON webhook,
the same over TLS, an ntfy-style server), grouping and the rate cap on a fake clock, failures
that cost a log line, `momoscan alerts test`, and no secret in any log line."""

from __future__ import annotations

import contextlib
import json
import logging
import random
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from momoscan.cli import main
from momoscan.config import ConfigError, load_settings
from momoscan.market_hours import ET
from momoscan.models import AlertEvent
from momoscan.push import (
    RATE_SPAN,
    Batcher,
    Message,
    Pusher,
    channel_label,
    compose,
)

DAY = date(2026, 11, 20)
T0 = datetime(2026, 11, 20, 9, 41, tzinfo=ET).timestamp()
#: Generous: how long a test waits for a local server to be reached (never a bound on speed).
PATIENCE = 20.0


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class Receiver:
    """A local HTTP(S) server: `/hook` takes a JSON webhook, `/fail` answers 500, `/bot...`
    refuses as Telegram's Bot API does (401), `/` and `/<topic>` answer as ntfy does (its JSON
    publish, and a plain POST to a topic)."""

    port: int
    scheme: str
    got: list[Received] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)
    release: threading.Event = field(default_factory=threading.Event)

    def wait_for(self, count: int) -> list[Received]:
        with self.arrived:
            assert self.arrived.wait_for(lambda: len(self.got) >= count, PATIENCE), self.got
            return list(self.got)


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path.startswith("/slow"):
                receiver.release.wait(PATIENCE)  # until the test is done with it
            try:
                body = json.loads(raw)
            except ValueError:
                body = {"message": raw.decode(), "title": self.headers.get("Title", "")}
            if self.path.startswith("/fail"):
                self._answer(500, {"error": "Internal Server Error"})
                return
            if self.path.startswith("/bot"):  # Telegram's Bot API refusing a token
                self._answer(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
                return
            if self.path not in ("/hook", "/slow") and not self.path.startswith("/hook?"):
                # ntfy: the topic is the path, or the JSON body's `topic` posted to /.
                topic = self.path.strip("/") or body.get("topic", "")
                if not topic:
                    self._answer(400, {"code": 40001, "error": "invalid request"})
                    return
                body["topic"] = topic
                self._answer(200, {"id": "x1", "time": 1, "event": "message", "topic": topic})
            else:
                self._answer(200, {})
            with receiver.arrived:
                receiver.got.append(Received(self.path, dict(self.headers), body))
                receiver.arrived.notify_all()

        def _answer(self, status: int, doc: dict[str, Any]) -> None:
            out = json.dumps(doc).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            with contextlib.suppress(OSError):  # a client that gave up (the slow channel)
                self.wfile.write(out)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    yield from _serve(None)


@pytest.fixture
def tls_receiver(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Receiver]:
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    # Apprise sends with requests, which verifies against this bundle: TLS checked as for real.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    yield from _serve(context)


def _serve(context: ssl.SSLContext | None) -> Iterator[Receiver]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    receiver = Receiver(server.server_address[1], "https" if context else "http")
    server.RequestHandlerClass = _handler(receiver)
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.release.set()
        server.shutdown()
        server.server_close()


def closed_port() -> int:
    """A port on 127.0.0.1 nothing listens on (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def event(
    symbol: str, n: int = 0, *, board: str = "Top movers", rule: str = "scanner"
) -> AlertEvent:
    return AlertEvent(
        rule=rule,
        name=board,
        symbol=symbol,
        message=f"{symbol} entered the top movers (#{n % 10 + 1}): +12.0% at 5.00, RVol 4.0x",
        at=T0 + n,
        day=DAY,
    )


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


# ---------------------------------------------------------------------------------------------
# What is shown of a URL.


@pytest.mark.parametrize(
    ("url", "label"),
    [
        ("json://127.0.0.1:8080/hook", "json://127.0.0.1"),
        ("jsons://user:s3cretpass@hooks.example.com/path/tok", "jsons://hooks.example.com"),
        ("ntfys://ntfy.sh/my-secret-topic", "ntfys://ntfy.sh"),
        ("ntfy://my-secret-topic", "ntfy://…"),
        ("tgram://123456789:AAbbCCddEEff/-100200", "tgram://…"),
        ("pover://userkey@apptoken", "pover://…"),
        ("discord://4174216298/JHMHI8qBe7bk2ZwO5U711o3dV_js", "discord://…"),
        ("mailtos://me:pw@smtp.example.org", "mailtos://smtp.example.org"),
        ("json://localhost/hook", "json://localhost"),
        ("json://[::1]:9/x", "json://[::1]"),
        ("not a url", "(not a URL)"),
    ],
)
def test_a_channel_shows_its_scheme_and_host_only(url: str, label: str) -> None:
    assert channel_label(url) == label


# ---------------------------------------------------------------------------------------------
# Messages, grouping and the rate cap.


def test_a_burst_is_one_message_saying_how_many_and_of_what_kind() -> None:
    events = [event(f"S{i}", i) for i in range(12)] + [
        event(f"V{i}", 20 + i, board="Top volume") for i in range(8)
    ]
    message = compose(events, max_lines=10)
    assert message.count == 20
    assert message.title == "momoscan: 20 alerts: 12 Top movers, 8 Top volume"
    lines = message.body.splitlines()
    assert lines[0] == "09:41 S0 entered the top movers (#1): +12.0% at 5.00, RVol 4.0x"
    assert len(lines) == 11 and lines[-1] == "and 10 more"
    one = compose([event("AAPL", 3)])
    assert one.title == "momoscan: AAPL (Top movers)" and one.body.startswith("09:41 AAPL ")
    rule = AlertEvent(
        "symbol=NVDA", "NVDA breakout", "NVDA", "NVDA at $201.35: price ≥ $200.", T0, DAY
    )
    assert compose([rule]).body == "09:41 NVDA breakout: NVDA at $201.35: price ≥ $200."


def test_outside_text_is_cleaned_before_it_goes_to_another_app() -> None:
    hostile = AlertEvent(
        "scanner",
        "Top\x1b]0;pwned\x07 movers",
        "EVIL\u202e",
        "EVIL\x1b[2J entered\nthe top",
        T0,
        DAY,
    )
    message = compose([hostile])
    for text in (message.title, message.body):
        assert "\x1b" not in text and "\u202e" not in text and "\n" not in text
    assert message.body == "09:41 EVIL entered the top"


def test_alerts_within_the_window_go_together_and_none_before_it() -> None:
    batcher = Batcher(per_minute=6, group_seconds=10.0)
    for i in range(20):
        batcher.add([event(f"S{i}", i)], now=i * 0.5)  # 20 entrants over 9.5 s
        assert batcher.take(now=i * 0.5) is None
    assert batcher.due() == 10.0
    message = batcher.take(now=10.0)
    assert message is not None and message.count == 20
    assert batcher.take(now=100.0) is None and batcher.due() is None


def test_the_rate_cap_folds_the_excess_into_the_next_message() -> None:
    batcher = Batcher(per_minute=2, group_seconds=0.0, max_lines=3)
    sent: list[tuple[float, Message]] = []
    for i in range(16):
        now = i * 2.0
        batcher.add([event(f"S{i}", i)], now)
        taken = batcher.take(now)
        if taken is not None:
            sent.append((now, taken))
    assert [m.count for _, m in sent] == [1, 1]  # the cap: two in the first minute
    assert batcher.due() == RATE_SPAN  # the next slot: a minute after the first
    now, folded = 60.0, batcher.take(60.0)
    assert folded is not None and folded.count == 14
    assert folded.body.splitlines()[-1] == "and 11 more"  # never dropped silently
    assert folded.title.startswith("momoscan: 14 alerts")


def test_every_alert_is_in_exactly_one_message_and_the_cap_holds() -> None:
    # The invariant, on a seeded random stream of alerts and looks at the clock.
    rng = random.Random(26)
    batcher = Batcher(per_minute=6, group_seconds=10.0)
    taken_at: list[float] = []
    carried = 0
    now, added = 0.0, 0
    for _ in range(3000):
        now += rng.expovariate(1 / 3.0)
        if rng.random() < 0.6:
            burst = [event(f"S{added + k}", added + k) for k in range(rng.randint(1, 25))]
            added += len(burst)
            batcher.add(burst, now)
        message = batcher.take(now)
        if message is not None:
            taken_at.append(now)
            carried += message.count
    final = batcher.take(now, force=True)
    carried += final.count if final else 0
    assert carried == added
    for i, at in enumerate(taken_at):
        assert sum(1 for t in taken_at[i:] if t < at + RATE_SPAN) <= 6


# ---------------------------------------------------------------------------------------------
# Real channels on 127.0.0.1.


def test_json_jsons_and_ntfy_channels_receive_the_message(
    receiver: Receiver, tls_receiver: Receiver
) -> None:
    pusher = Pusher(
        [
            f"json://127.0.0.1:{receiver.port}/hook",
            f"jsons://127.0.0.1:{tls_receiver.port}/hook",
            f"ntfy://127.0.0.1:{receiver.port}/momo-topic",
        ]
    )
    message = compose([event("AAPL", 3), event("TSLA", 4)])
    outcomes = pusher.deliver(message)
    assert [(o.channel.label, o.error) for o in outcomes] == [
        ("json://127.0.0.1", ""),
        ("jsons://127.0.0.1", ""),
        ("ntfy://127.0.0.1", ""),
    ]
    got = receiver.wait_for(2)
    hook = next(r for r in got if r.path == "/hook")
    assert hook.body["title"] == message.title and hook.body["message"] == message.body
    ntfy = next(r for r in got if r.path != "/hook")
    assert ntfy.body["topic"] == "momo-topic"
    assert ntfy.body["title"] == message.title and ntfy.body["message"] == message.body
    (tls,) = tls_receiver.wait_for(1)
    assert tls.body["message"] == message.body


def test_a_burst_of_20_entrants_is_one_push(receiver: Receiver) -> None:
    clock = FakeClock()
    pusher = Pusher([f"json://127.0.0.1:{receiver.port}/hook"], clock=clock)
    try:
        for i in range(20):
            clock.now = i * 0.4
            pusher.add([event(f"S{i}", i)])
        pusher.wake()
        assert receiver.got == [] and len(pusher.batcher.pending) == 20  # the window is open
        clock.now = 10.0
        pusher.wake()
        (push,) = receiver.wait_for(1)
    finally:
        pusher.close()
    assert push.body["title"] == "momoscan: 20 alerts: 20 Top movers"
    assert push.body["message"].splitlines()[-1] == "and 10 more"
    assert len(receiver.got) == 1 and pusher.sent == 1


def test_what_waits_goes_when_the_collector_closes(receiver: Receiver) -> None:
    clock = FakeClock()
    pusher = Pusher([f"json://127.0.0.1:{receiver.port}/hook"], clock=clock, group_seconds=60)
    pusher.add([event("AAPL", 1)])
    pusher.close()
    (push,) = receiver.wait_for(1)
    assert push.body["title"] == "momoscan: AAPL (Top movers)"
    pusher.add([event("TSLA", 2)])  # after close: nothing starts again
    assert pusher.idle


def test_scanner_entries_stay_home_with_push_scanner_off(receiver: Receiver) -> None:
    pusher = Pusher([f"json://127.0.0.1:{receiver.port}/hook"], scanner=False, group_seconds=0)
    rule = event("NVDA", 1, board="NVDA breakout", rule="symbol=NVDA;price_above=200.0")
    pusher.add([event("AAPL", 0), rule])
    pusher.close()
    (push,) = receiver.wait_for(1)
    assert push.body["title"] == "momoscan: NVDA (NVDA breakout)"


def test_a_failing_channel_costs_a_logged_line_and_the_next_message_still_goes(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    refused = closed_port()
    pusher = Pusher(
        [
            f"json://127.0.0.1:{refused}/x",
            f"json://127.0.0.1:{receiver.port}/fail",
            f"json://127.0.0.1:{receiver.port}/hook",
        ],
        group_seconds=0,
    )
    first = pusher.deliver(compose([event("AAPL", 1)]))
    assert [o.ok for o in first] == [False, False, True]
    assert "127.0.0.1" in first[0].error and "500" in first[1].error
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.getMessage().split(" failed")[0] for r in warnings] == [
        "push channel 1 (json://127.0.0.1)",
        "push channel 2 (json://127.0.0.1)",
    ]
    caplog.clear()
    # Through the pusher's thread: the next message goes to the good channel; the failing
    # ones are an info line each, not another warning.
    pusher.add([event("TSLA", 2)])
    got = receiver.wait_for(2)
    pusher.close()
    assert got[-1].path == "/hook" and "TSLA" in got[-1].body["message"]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert sum("still fails" in r.getMessage() for r in caplog.records) == 2
    assert pusher.failed == 4 and pusher.sent == 2


def test_a_slow_channel_times_out_and_the_others_are_not_held(receiver: Receiver) -> None:
    pusher = Pusher(
        [f"json://127.0.0.1:{receiver.port}/slow", f"json://127.0.0.1:{receiver.port}/hook"],
        timeout=0.5,
    )
    slow, fast = pusher.deliver(compose([event("AAPL", 1)]))
    receiver.release.set()
    assert fast.ok and not slow.ok


def test_no_secret_reaches_a_log_line_or_an_error(
    receiver: Receiver, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from apprise.plugins.telegram import NotifyTelegram

    # Telegram's plugin, sending to the local stand-in of its Bot API: its messages name the
    # bot, whose token is in the URL's host.
    monkeypatch.setattr(NotifyTelegram, "notify_url", f"http://127.0.0.1:{receiver.port}/bot")
    caplog.set_level(logging.DEBUG)
    secrets = ["s3cretpass", "t0psecrettoken", "AAbbCCddEEff", "hushhush-topic"]
    pusher = Pusher(
        [
            f"json://user:{secrets[0]}@127.0.0.1:{receiver.port}/fail/{secrets[1]}",
            f"json://127.0.0.1:{closed_port()}/{secrets[1]}",
            f"tgram://123456789:{secrets[2]}/-100200",
            f"ntfy://{secrets[3]}:{secrets[0]}@127.0.0.1:{closed_port()}/{secrets[3]}",
            f"nosuchservice://{secrets[1]}@example.com",
        ],
        timeout=2.0,
    )
    outcomes = pusher.deliver(compose([event("AAPL", 1)]))
    assert not any(o.ok for o in outcomes)
    shown = caplog.text + repr(pusher) + "".join(o.error for o in outcomes)
    for secret in secrets:
        assert secret not in shown
    assert "Apprise can send to" in outcomes[4].error
    assert not [r for r in caplog.records if r.name.startswith("apprise")]


# ---------------------------------------------------------------------------------------------
# Config and `momoscan alerts test`.


def write_config(tmp_path: Path, urls: list[str]) -> Path:
    config = tmp_path / "config.toml"
    config.write_text(f"[alerts]\npush = {json.dumps(urls)}\npush_group_seconds = 5\n")
    return config


def test_a_variable_in_a_push_url_comes_from_the_environment(tmp_path: Path) -> None:
    config = write_config(tmp_path, ["ntfys://ntfy.sh/${MOMO_TOPIC}", "json://localhost/hook"])
    settings = load_settings(str(config), {"MOMO_TOPIC": "hush-7f3a"})
    assert settings.alerts.push == ["ntfys://ntfy.sh/hush-7f3a", "json://localhost/hook"]
    assert settings.alerts.push_group_seconds == 5.0 and settings.alerts.push_per_minute == 6
    assert "hush-7f3a" not in repr(settings)
    with pytest.raises(ConfigError) as info:
        load_settings(str(config), {})
    message = str(info.value)
    assert message.startswith(f"{config}:2: [alerts] push: ${{MOMO_TOPIC}} is used")
    assert "ntfy.sh" not in message


def test_a_push_entry_that_is_no_url_is_a_config_error_that_does_not_echo_it(
    tmp_path: Path,
) -> None:
    config = write_config(tmp_path, ["json://localhost/hook", "s3cret-but-no-scheme"])
    with pytest.raises(ConfigError) as info:
        load_settings(str(config), {})
    assert "entry 2 is not an Apprise URL" in str(info.value)
    assert "s3cret" not in str(info.value)
    (tmp_path / "bad.toml").write_text('[alerts]\npush = "json://s3cret@x"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(str(tmp_path / "bad.toml"), {})
    assert "s3cret" not in str(info.value)


def test_alerts_test_sends_to_every_channel_and_says_how_each_did(
    tmp_path: Path, receiver: Receiver, capsys: pytest.CaptureFixture[str]
) -> None:
    good = [f"json://127.0.0.1:{receiver.port}/hook", f"ntfy://127.0.0.1:{receiver.port}/momo"]
    assert main(["alerts", "test", "--config", str(write_config(tmp_path, good))]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "1. json://127.0.0.1: ok",
        "2. ntfy://127.0.0.1: ok",
    ]
    got = receiver.wait_for(2)
    assert {r.body["title"] for r in got} == {"momoscan: test message"}
    assert {r.body.get("topic") for r in got} == {None, "momo"}

    failing = [*good, f"json://127.0.0.1:{closed_port()}/hook"]
    assert main(["alerts", "test", "--config", str(write_config(tmp_path, failing))]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[:2] == ["1. json://127.0.0.1: ok", "2. ntfy://127.0.0.1: ok"]
    assert lines[2].startswith("3. json://127.0.0.1: failed: ") and len(lines) == 3


def test_alerts_test_without_channels_says_how_to_add_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[alerts]\ndesktop = false\n")
    assert main(["alerts", "test", "--config", str(config)]) == 1
    out = capsys.readouterr().out
    assert out.startswith("No push channels.") and str(config) in out and "push = [" in out


def test_alerts_test_exits_2_on_a_config_error_naming_file_and_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, ["tgram://${MOMO_BOT_TOKEN}/12345"])
    assert main(["alerts", "test", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert f"{config}:2: [alerts] push: ${{MOMO_BOT_TOKEN}}" in err


def test_alerts_test_has_its_own_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["alerts", "test", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "usage: momoscan alerts test" in out and "Exit codes: 0" in out
    assert main(["alerts"]) == 2
    assert "test" in capsys.readouterr().out


# ---------------------------------------------------------------------------------------------
# The collector pushes.


def test_a_collectors_alerts_are_pushed_once_as_one_message(
    tmp_path: Path, receiver: Receiver, capsys: pytest.CaptureFixture[str]
) -> None:
    from momoscan.simulated.universe import build_stocks

    symbol = next(s.symbol for s in build_stocks(60, 7) if s.ticker().cap_tier != "nano")
    config = tmp_path / "config.toml"
    config.write_text(
        '[demo]\ndate = "2026-11-20"\nstart = "10:00"\n\n'
        f'[alerts]\ndesktop = false\npush = ["json://127.0.0.1:{receiver.port}/hook"]\n'
        "push_group_seconds = 30\npush_scanner = false\n\n"
        f'[[alerts.rules]]\nname = "Test"\nsymbol = "{symbol}"\nprice_above = 0.5\n'
    )
    db = str(tmp_path / "x.db")
    # A cron --once collects: what fired goes in one message when it closes, grouping aside.
    flags = ["--config", str(config), "--db", db, "--demo-size", "60", "--once"]
    assert main([*flags, "--exit-code-on-alert"]) == 4
    capsys.readouterr()
    (push,) = receiver.wait_for(1)
    assert f"Test: {symbol} at $" in push.body["message"]
    # The simulated market's alerts say so: never taken for the market's on a phone.
    assert push.body["title"].startswith("momoscan DEMO (simulated market): ")
    # The next run: no new crossing, nothing pushed.
    assert main(flags) == 0
    assert len(receiver.got) == 1
