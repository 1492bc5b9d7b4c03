"""The README documents every command-line flag, every config key and every key binding."""

from __future__ import annotations

import re
from pathlib import Path

from momoscan.cli import build_parser
from momoscan.config import field_docs

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_every_flag_is_in_the_readme() -> None:
    flags = [
        option
        for action in build_parser()._actions  # argparse has no public listing
        for option in action.option_strings
        if option.startswith("--") and option != "--help"
    ]
    assert flags
    missing = [flag for flag in flags if f"`{flag}" not in README]
    assert not missing, f"flags missing from README.md: {missing}"


def test_every_config_key_is_in_the_readme_table() -> None:
    rows = re.findall(r"^\|\s*(`\[\w+\]`)?\s*\|\s*`(\w+)`\s*\|", README, re.M)
    documented: set[tuple[str, str]] = set()
    section = ""
    for section_cell, key in rows:
        if section_cell:
            section = section_cell.strip("`[]")
        documented.add((section, key))
    missing = [
        f"[{section}] {key}"
        for section, keys in field_docs().items()
        for key in keys
        if (section, key) not in documented
    ]
    assert not missing, f"config keys missing from README.md: {missing}"


def test_every_key_binding_is_in_the_readme() -> None:
    from momoscan.tui.app import MomoscanApp

    keys = {"slash": "/", "question_mark": "?"}
    for binding in MomoscanApp.BINDINGS:
        key = keys.get(binding.key, binding.key)  # type: ignore[union-attr]
        assert f"| `{key}` |" in README, f"key {key!r} missing from README.md"
