"""AI Quant's rationale from an OpenAI-compatible provider (a real HTTP server here): the
model sees the proposal's title, diff and evidence under a strict JSON schema; its words
join the figures' rationale; a timeout, an error or an answer off the schema leaves the
figures' rationale alone and says why; the key is sent as a bearer header only."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from tests.processes import StubServer, running_openai_stub
from titan_backtest.narrate import ANSWER_SCHEMA, QuantSettings, narrate

pytestmark = pytest.mark.integration

PROPOSAL: dict[str, Any] = {
    "title": "AI Quant: maxRiskPerTrade 0.02 -> 0.01",
    "base_version": "default",
    "request": {"riskTuner": {"maxRiskPerTrade": "0.01"}},
    "diff": [{"path": "risk_tuner.max_risk_per_trade", "from": "0.02", "to": "0.01"}],
    "evidence": {"baseline": {"held_out": {"score": -12.8}}, "candidate": {"held_out": {"score": -9.3}}},
    "rationale": "from the figures: the held-out score rose from -12.8 to -9.3",
}


@pytest.fixture(scope="module")
def stub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StubServer]:
    with running_openai_stub(tmp_path_factory.mktemp("quant-stub")) as server:
        yield server


def settings(stub: StubServer, **overrides: Any) -> QuantSettings:
    values: dict[str, Any] = {
        "quant_llm_url": stub.completions_url,
        "quant_llm_model": "stub-model",
        "quant_llm_api_key": SecretStr("sk-quant-test"),
        "quant_llm_timeout_s": 2.0,
        **overrides,
    }
    return QuantSettings(**values)


def test_without_a_provider_the_rationale_is_the_figures() -> None:
    (out,) = narrate([PROPOSAL], QuantSettings(quant_llm_url=""))
    assert out["rationale"] == PROPOSAL["rationale"]
    assert out["rationale_source"] == "figures"


def test_the_models_words_join_the_figures_under_the_strict_schema(stub: StubServer) -> None:
    answer = {"rationale": "Halving the risk per trade halved the drawdown.", "risks": ["fewer gains in trends"]}
    stub.script(content=json.dumps(answer))
    (out,) = narrate([PROPOSAL], settings(stub))
    assert out["rationale_source"] == "model:stub-model"
    assert out["rationale"].startswith("Halving the risk per trade halved the drawdown. Risks: fewer gains in trends.")
    assert PROPOSAL["rationale"] in out["rationale"]  # added to, never replaced
    assert out["rationale_model"]["risks"] == ["fewer gains in trends"]
    (request,) = stub.requests()
    assert request["headers"]["authorization"] == "Bearer sk-quant-test"
    body = request["body"]
    assert body["response_format"]["json_schema"]["strict"] is True
    assert body["response_format"]["json_schema"]["schema"] == ANSWER_SCHEMA
    shown = json.loads(body["messages"][1]["content"])
    assert set(shown) == {"title", "diff", "evidence"}  # nothing else leaves the machine


@pytest.mark.parametrize(
    ("script", "why"),
    [
        ({"content": json.dumps({"rationale": "ok", "risks": [], "extra": 1})}, "off the schema"),
        ({"content": "not json"}, "off the schema"),
        ({"content": json.dumps({"rationale": "ok"})}, "off the schema"),
        ({"status": 500}, "HTTP 500"),
        ({"content": json.dumps({"rationale": "late", "risks": []}), "delay_s": 3.0}, "no answer within 2 s"),
    ],
)
def test_a_failed_model_leaves_the_figures_and_says_why(stub: StubServer, script: dict[str, Any], why: str) -> None:
    stub.script(**script)
    (out,) = narrate([PROPOSAL], settings(stub))
    assert out["rationale"] == PROPOSAL["rationale"]
    assert why in out["rationale_source"]
    assert "rationale_model" not in out


def test_an_unreachable_provider_leaves_the_figures(tmp_path: Path) -> None:
    (out,) = narrate([PROPOSAL], QuantSettings(quant_llm_url="http://127.0.0.1:9/v1/chat/completions"))
    assert out["rationale"] == PROPOSAL["rationale"]
    assert "could not be reached" in out["rationale_source"]
