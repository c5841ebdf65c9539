"""The brain's settings: in LIVE with AI_DEC=2 the AI gate is mandatory, so the brain does
not start with the provider `off` (the default), and says so in one line."""

from __future__ import annotations

from typing import Any

import pytest

from titan_brain.settings import BrainSettings
from titan_common.settings import SettingsError, load_settings

STORES = {"database_url": "postgresql://u@h/db", "redis_url": "redis://h:6379/0"}


def settings(**values: Any) -> BrainSettings:
    return load_settings(BrainSettings, exit_on_error=False, **STORES, **values)


def test_live_with_ai_dec_2_refuses_to_start_without_a_provider() -> None:
    with pytest.raises(SettingsError) as refused:
        settings(system_mode="LIVE", ai_dec=2)
    problems = str(refused.value).splitlines()[1:]
    assert [line.strip() for line in problems] == [
        "LIVE refused: AI_DEC=2 makes the AI gate mandatory but TITAN_AI_GATE_PROVIDER is off; "
        "set it to rules or openai (or lower AI_DEC)"
    ]


def test_the_environment_says_the_same(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    for name, value in {"SYSTEM_MODE": "LIVE", "AI_DEC": "2", "DATABASE_URL": STORES["database_url"],
                        "REDIS_URL": STORES["redis_url"]}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("TITAN_AI_GATE_PROVIDER", raising=False)
    with pytest.raises(SystemExit) as stopped:
        load_settings(BrainSettings)
    assert stopped.value.code == 2
    assert "AI_DEC=2 makes the AI gate mandatory" in capsys.readouterr().err


@pytest.mark.parametrize(
    "values",
    [
        {"system_mode": "LIVE", "ai_dec": 2, "ai_gate_provider": "rules"},
        {"system_mode": "LIVE", "ai_dec": 2, "ai_gate_provider": "openai"},
        {"system_mode": "LIVE", "ai_dec": 1},
        {"system_mode": "PAPER", "ai_dec": 2},
    ],
)
def test_every_other_combination_starts(values: dict[str, Any]) -> None:
    assert settings(**values).ai_dec == values["ai_dec"]
