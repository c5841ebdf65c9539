import pytest

from titan_common.settings import (
    CommonSettings,
    ServiceSettings,
    SettingsError,
    load_settings,
    normalise_database_url,
)


def test_defaults_load(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "REDIS_URL", "SYSTEM_MODE", "TITAN_BRAIN_PORT"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings(CommonSettings)
    assert settings.brain_port == 3100
    assert settings.system_mode == "PAPER"


def test_every_bad_value_is_named_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TITAN_BRAIN_PORT", "70000")
    monkeypatch.setenv("TITAN_CONSOLE_PORT", "abc")
    monkeypatch.setenv("DATABASE_URL", "mysql://db/x")
    monkeypatch.setenv("REDIS_URL", "http://nope")
    monkeypatch.setenv("SYSTEM_MODE", "YOLO")
    with pytest.raises(SettingsError) as caught:
        load_settings(ServiceSettings, exit_on_error=False)
    message = str(caught.value)
    for name in ("TITAN_BRAIN_PORT", "TITAN_CONSOLE_PORT", "DATABASE_URL", "REDIS_URL", "SYSTEM_MODE"):
        assert name in message
    assert "5 problem(s)" in message


def test_exit_code_is_2(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("TITAN_EXECUTION_PORT", "0")
    with pytest.raises(SystemExit) as caught:
        load_settings(CommonSettings)
    assert caught.value.code == 2
    assert "TITAN_EXECUTION_PORT" in capsys.readouterr().err


def test_passwords_in_urls_are_not_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://u:hunter2@")
    monkeypatch.setenv("TITAN_INTERNAL_TOKEN", "")
    with pytest.raises(SettingsError) as caught:
        load_settings(ServiceSettings, exit_on_error=False)
    assert "hunter2" not in str(caught.value)


def test_database_urls_are_normalised() -> None:
    assert normalise_database_url("postgres://u@h:5432/db") == "postgresql+asyncpg://u@h:5432/db"
    assert normalise_database_url("postgresql://u@/db?host=/tmp/s").startswith("postgresql+asyncpg://")
    with pytest.raises(ValueError, match="database"):
        normalise_database_url("postgresql://u@h:5432/")
    with pytest.raises(ValueError, match="port"):
        normalise_database_url("postgresql://u@h:99999/db")
