"""docs/collector.md, its systemd unit and its launchd plist cannot drift from momoscan's flags:
every `momoscan ...` command they quote parses with momoscan's own parsers."""

from __future__ import annotations

import plistlib
import re
import shlex
from pathlib import Path

import pytest

from momoscan.cli import build_check_parser, parse_args

DOCS = Path(__file__).resolve().parents[1] / "docs"
GUIDE = DOCS / "collector.md"
UNIT = DOCS / "momoscan-collect.service"
PLIST = DOCS / "com.momoscan.collect.plist"


def parse_command(words: list[str]) -> None:
    """Parse `momoscan <words>` as `momoscan.cli.main` dispatches it.

    Raises:
        SystemExit: argparse refused the words (code 2), or printed --help (code 0).
        ValueError: `momoscan collect --once`, which main refuses.
    """
    if words[:1] == ["check"]:
        build_check_parser().parse_args(words[1:])
    elif words[:1] == ["serve"]:
        from momoscan.serve import build_serve_parser

        build_serve_parser().parse_args(words[1:])
    elif words[:1] == ["collect"]:
        if "--once" in words:
            raise ValueError("momoscan collect refuses --once")
        parse_args([*words[1:], "--headless"])
    else:
        parse_args(words)


def momoscan_words(text: str) -> list[str] | None:
    """The arguments of a `momoscan ...` command line (the program named by itself or by a
    path ending in /momoscan, a trailing `# comment` dropped); None for any other text."""
    try:
        words = shlex.split(text, comments=True)
    except ValueError:
        return None
    if not words or words[0].rsplit("/", 1)[-1] != "momoscan":
        return None
    return words[1:]


def quoted_commands(markdown: str) -> list[str]:
    """Every `momoscan ...` command in `markdown`: lines of fenced blocks and inline code."""
    found: list[str] = []
    fenced = re.findall(r"^```[^\n]*\n(.*?)^```", markdown, flags=re.M | re.S)
    for block in fenced:
        found.extend(line.strip() for line in block.splitlines())
    prose = re.sub(r"^```[^\n]*\n.*?^```", "", markdown, flags=re.M | re.S)
    found.extend(re.findall(r"`([^`\n]+)`", prose))
    return [text for text in found if momoscan_words(text) is not None]


def check(text: str) -> str | None:
    """None when the command parses; else why not."""
    words = momoscan_words(text)
    assert words is not None
    try:
        parse_command(words)
    except SystemExit as exc:
        if exc.code not in (0, None):
            return f"{text!r}: refused by momoscan's parser (exit {exc.code})"
    except ValueError as exc:
        return f"{text!r}: {exc}"
    return None


def test_every_command_in_the_guide_parses(capsys: pytest.CaptureFixture[str]) -> None:
    commands = quoted_commands(GUIDE.read_text(encoding="utf-8"))
    # The guide quotes the collector, the viewers and the service's command: if the extraction
    # found none of them, it checked nothing.
    joined = "\n".join(commands)
    for expected in ("momoscan collect", "momoscan serve", "momoscan --once", "bin/momoscan"):
        assert expected in joined, f"no `{expected}` found in {GUIDE.name}"
    failures = [why for text in commands if (why := check(text)) is not None]
    capsys.readouterr()  # --help output, if the guide quotes it
    assert not failures, "\n".join(failures)


def test_the_checker_refuses_what_momoscan_refuses(capsys: pytest.CaptureFixture[str]) -> None:
    assert check("momoscan collect --interval 30") is None
    assert check("momoscan serve --behind-proxy --db /tmp/x.db") is None
    assert check("momoscan collect --no-such-flag") is not None
    assert check("momoscan collect --once") is not None
    assert check("momoscan --full") is not None  # --full needs --once
    assert check("momoscan serve --once") is not None
    capsys.readouterr()


def test_the_guides_launchd_example_parses() -> None:
    """The ProgramArguments example in the guide's XML block is a momoscan command."""
    blocks = re.findall(r"^```xml\n(.*?)^```", GUIDE.read_text(encoding="utf-8"), re.M | re.S)
    assert blocks
    argv = re.findall(r"<string>(.*?)</string>", blocks[0])
    assert check(shlex.join(argv)) is None


def unit_entries(text: str) -> dict[str, list[str]]:
    """`Section.Key` -> its values, from a systemd unit (comments and blank lines skipped)."""
    entries: dict[str, list[str]] = {}
    section = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        key, sep, value = line.partition("=")
        assert sep, f"not a key=value line in {UNIT.name}: {raw!r}"
        entries.setdefault(f"{section}.{key.strip()}", []).append(value.strip())
    return entries


def test_the_systemd_unit_runs_momoscan_collect() -> None:
    entries = unit_entries(UNIT.read_text(encoding="utf-8"))
    (exec_start,) = entries["Service.ExecStart"]
    assert exec_start.split()[0].startswith("%h/"), "ExecStart must be an absolute path"
    words = momoscan_words(exec_start)
    assert words is not None and words[:1] == ["collect"], exec_start
    assert check(exec_start) is None
    assert entries["Service.Restart"] == ["on-failure"]
    assert entries["Service.KillSignal"] == ["SIGTERM"]
    assert entries["Install.WantedBy"] == ["default.target"]
    # No secrets in the unit: the key comes from the config file or an environment file.
    assert entries["Service.EnvironmentFile"]
    assert not any(key.endswith(".Environment") for key in entries)
    assert "API_KEY=" not in "\n".join(v for values in entries.values() for v in values)


def test_the_launchd_plist_parses_and_runs_momoscan_collect() -> None:
    with PLIST.open("rb") as f:
        plist = plistlib.load(f)
    assert plist["Label"] == "com.momoscan.collect"
    argv = plist["ProgramArguments"]
    assert argv[0].startswith("/") and argv[0].endswith("/momoscan")
    assert argv[1] == "collect"
    assert check(shlex.join(argv)) is None
    assert plist["RunAtLoad"] is True
    assert plist["KeepAlive"]
    # launchd expands neither ~ nor $HOME: every path must be absolute.
    for key in ("StandardErrorPath", "StandardOutPath"):
        assert plist[key].startswith("/") and "~" not in plist[key], key
    assert "EnvironmentVariables" not in plist  # no key in the plist


def test_the_guide_links_the_service_files() -> None:
    guide = GUIDE.read_text(encoding="utf-8")
    for path in (UNIT, PLIST):
        assert f"]({path.name})" in guide
        assert path.exists()
    assert "<!-- figures -->" in guide
