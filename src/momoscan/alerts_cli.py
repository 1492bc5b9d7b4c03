"""`momoscan alerts test`: one test message to every push channel of `[alerts] push`, a line
a channel (its scheme and host only: the rest of a URL is a secret). Exit 0 when every channel
took it, 1 when one failed or none is configured, 2 on a usage or config error.

Apprise is imported only on this path and the collector's (`push.py`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import datetime

from .market_hours import ET
from .push import APPRISE_URLS, Message, Pusher
from .usage import Parser

NO_CHANNELS = (
    "No push channels. Add Apprise URLs under [alerts] in {path}, for example\n"
    '  push = ["ntfys://ntfy.sh/your-topic", "json://localhost:8080/hook"]\n'
    '(a secret can come from the environment: "tgram://${{TELEGRAM_BOT}}/12345"); every '
    f"service's URL: {APPRISE_URLS}"
)


def trial_message(now: datetime | None = None) -> Message:
    """The message `momoscan alerts test` sends."""
    at = (now or datetime.now(ET)).astimezone(ET).strftime("%H:%M:%S ET")
    return Message(
        "momoscan: test message",
        f"{at} momoscan alerts test: this channel works. Alerts come like this, "
        "a burst of them in one message.",
        0,
    )


def build_alerts_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="momoscan alerts",
        description="Push channels for alerts ([alerts] push in the config: Apprise URLs for "
        "ntfy, Pushover, Telegram, Discord, Slack, email, webhooks).",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    test = commands.add_parser(
        "test",
        help="send one test message to every push channel",
        description="Send one test message to every channel of [alerts] push and say, a line "
        "a channel (its scheme and host only: the rest of the URL is a secret), whether it "
        "took it.",
        epilog="Exit codes: 0 every channel took it, 1 a channel failed (or none is "
        "configured), 2 usage or config error (a ${VARIABLE} in a URL that is not set, say).",
    )
    test.add_argument("--config", metavar="PATH", help="config file (as for momoscan)")
    test.add_argument("-v", "--verbose", action="store_true", help="log more, to stderr")
    return parser


def alerts_main(argv: Sequence[str]) -> int:
    """`momoscan alerts test`: one test message to every channel, a line each."""
    from .config import ConfigError, load_settings, resolve_config_path
    from .exits import EXIT_FAILED, EXIT_OK, EXIT_USAGE
    from .logs import setup_logging

    parser = build_alerts_parser()
    args = parser.parse_args(argv)
    if args.command != "test":
        parser.print_help()
        return EXIT_USAGE
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        print(f"momoscan: config error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    setup_logging(settings, to_stderr=args.verbose, verbose=args.verbose)
    if not settings.alerts.push:
        import os

        path = settings.source_path or resolve_config_path(args.config, os.environ)
        print(NO_CHANNELS.format(path=path))
        return EXIT_FAILED
    pusher = Pusher(settings.alerts.push)
    outcomes = pusher.deliver(trial_message(), report=False)
    for outcome in outcomes:
        said = "ok" if outcome.ok else f"failed: {outcome.error}"
        print(f"{outcome.channel.number}. {outcome.channel.label}: {said}")
    return EXIT_OK if all(o.ok for o in outcomes) else EXIT_FAILED
