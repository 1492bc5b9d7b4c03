"""The price stream in --json: its state, the names streaming, the prices refused for naming
another listing, and the age of its last message."""

from __future__ import annotations

from momoscan.engine.stream import StreamStatus
from momoscan.headless import stream_json


def test_a_stream_not_run_is_off() -> None:
    doc = stream_json(None, 546)
    assert doc["state"] == "off" and doc["streaming"] == 0 and doc["refused_events"] == 0
    assert doc["last_message_age_seconds"] is None


def test_a_stalled_stream_says_so_with_its_refusals_and_silence() -> None:
    status = StreamStatus(
        True,
        False,
        0,
        40,
        0,
        "Twelve Data stream: the stream stalled: no message in 30 s; quotes are polled.",
        stalled=True,
        refused_events=7,
        last_message_age=41.26,
    )
    doc = stream_json(status, 546)
    assert doc == {
        "state": "stalled",
        "streaming": 0,
        "refused_events": 7,
        "last_message_age_seconds": 41.3,
        "problem": status.problem,
        "line": "stream stalled · 7 other-listing ticks refused · polling 546",
    }


def test_a_live_stream_counts_its_names() -> None:
    doc = stream_json(StreamStatus(True, True, 40, 40, 2, "", last_message_age=0.4), 546)
    assert doc["state"] == "live" and doc["streaming"] == 40
    assert doc["line"] == "stream: 40 live (2 refused) · polling 506"
