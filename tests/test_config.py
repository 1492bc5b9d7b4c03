from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from momoscan.config import (
    ConfigError,
    Settings,
    field_docs,
    load_settings,
    parse_settings,
)

ROOT = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_missing_default_file_means_defaults() -> None:
    settings = load_settings(None, {})
    assert settings == Settings(source_path=None)
    assert settings.universe.cap_tiers == ["small", "mid", "large"]
    assert settings.universe.min_price == 1.0


def test_explicit_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_settings(str(tmp_path / "nope.toml"), {})


def test_env_var_points_at_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[scan]\nrefresh_interval = 15\n")
    settings = load_settings(None, {"MOMOSCAN_CONFIG": str(path)})
    assert settings.scan.refresh_interval == 15.0
    assert settings.source_path == path


def test_cli_path_wins_over_env(tmp_path: Path) -> None:
    a = write(tmp_path, "[scan]\nrefresh_interval = 15\n")
    b = tmp_path / "b.toml"
    b.write_text("[scan]\nrefresh_interval = 30\n")
    assert load_settings(str(b), {"MOMOSCAN_CONFIG": str(a)}).scan.refresh_interval == 30.0


def test_keys_from_environment_win(tmp_path: Path) -> None:
    path = write(tmp_path, '[twelvedata]\napi_key = "from-file"\n')
    settings = load_settings(
        str(path), {"TWELVEDATA_API_KEY": "from-env", "NASDAQ_DATA_LINK_API_KEY": "ndl-env"}
    )
    assert settings.twelvedata.api_key == "from-env"
    assert settings.nasdaq.api_key == "ndl-env"
    assert "from-env" not in repr(settings) and "ndl-env" not in repr(settings)


def test_unknown_key_names_file_key_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "# comment\n[universe]\nmin_price = 2\ncap_tier = ['mid']\n")
    with pytest.raises(ConfigError) as info:
        load_settings(str(path), {})
    message = str(info.value)
    assert message.startswith(f"{path}:4: [universe] cap_tier: unknown key")
    assert "did you mean 'cap_tiers'" in message


def test_unknown_section(tmp_path: Path) -> None:
    path = write(tmp_path, "[scan]\nrefresh_interval = 5\n\n[twelve_data]\napi_key = 'x'\n")
    with pytest.raises(ConfigError, match=r":4: \[twelve_data\]: unknown section"):
        load_settings(str(path), {})


def test_wrong_type(tmp_path: Path) -> None:
    path = write(tmp_path, '[universe]\nmin_price = "cheap"\n')
    with pytest.raises(ConfigError, match=r":2: \[universe\] min_price: must be a number"):
        load_settings(str(path), {})


def test_bool_is_not_a_number(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="must be a whole number"):
        parse_settings("[options]\nwatch_size = true\n")


def test_bad_value(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="'giant' is not one of nano, micro"):
        parse_settings("[universe]\ncap_tiers = ['small', 'giant']\n")
    with pytest.raises(ConfigError, match="between 1 and 120"):
        parse_settings("[twelvedata]\nbatch_size = 500\n")


def test_toml_syntax_error_has_line(tmp_path: Path) -> None:
    path = write(tmp_path, '[scan]\nrefresh_interval = 5\nwatchlist = ["AAPL"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(str(path), {})
    assert str(info.value).startswith(f"{path}:")
    assert "not valid TOML" in str(info.value)
    assert info.value.line is not None


def test_api_key_value_never_in_error(tmp_path: Path) -> None:
    path = write(tmp_path, "[twelvedata]\napi_key = 12345678\n")
    with pytest.raises(ConfigError) as info:
        load_settings(str(path), {})
    assert "12345678" not in str(info.value)


def test_watchlist_is_normalised() -> None:
    settings = parse_settings("[scan]\nwatchlist = [' nvda', 'amd ', '']\n")
    assert settings.scan.watchlist == ["NVDA", "AMD"]


def test_example_config_is_generated_from_the_settings() -> None:
    from momoscan.config import example_toml

    assert (ROOT / "config.toml.example").read_text() == example_toml(), (
        "config.toml.example is out of date: regenerate it (see config.example_toml)"
    )


def test_example_config_documents_every_key_with_its_default() -> None:
    text = (ROOT / "config.toml.example").read_text()
    # Every key is present (commented out) with its default value.
    uncommented = "\n".join(
        line[2:] if re.match(r"^# \w+ = ", line) else line for line in text.splitlines()
    )
    data = tomllib.loads(uncommented)
    defaults = Settings()
    docs = field_docs()
    for section, keys in docs.items():
        assert section in data, f"[{section}] missing from config.toml.example"
        for key in keys:
            assert key in data[section], f"[{section}] {key} missing from config.toml.example"
            default = getattr(getattr(defaults, section), key)
            if default is None:
                # Unset by default (TOML has no null): the example shows a value to set it to,
                # and says it is unset; that value must be one the setting takes.
                assert re.search(rf"^# {key} = .*# unset by default$", text, re.M), (section, key)
                parse_settings(f"[{section}]\n{key} = {data[section][key]!r}\n")
                continue
            assert data[section][key] == default, (section, key)
    # And the example itself, as shipped (all commented), is valid and means defaults.
    assert parse_settings(text) == Settings()


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "momoscan", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=120,
    )


def test_cli_wrong_key_exits_2_with_one_line(tmp_path: Path) -> None:
    path = write(tmp_path, "[universe]\nmin_prize = 2\n")
    result = run_cli("--config", str(path), "--headless", "--once")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert str(path) in lines[0] and "[universe] min_prize" in lines[0] and ":2:" in lines[0]
    assert "Traceback" not in result.stderr


def test_cli_bad_flag_exits_2() -> None:
    result = run_cli("--no-such-flag")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
