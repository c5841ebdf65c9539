"""AI Quant's rationale in a model's words, when an OpenAI-compatible provider is configured.

The deterministic rationale (`quant.rationale`, from the figures) is always written. With
`TITAN_QUANT_LLM_URL` set (any chat-completions URL: OpenAI, Groq, a local server), the
proposal's title, diff and evidence, and nothing else, go to the model, which must answer
in the strict JSON schema below within `TITAN_QUANT_LLM_TIMEOUT_S`. Its answer is added to
the proposal beside the figures' text, never in place of it. A timeout, an HTTP error or
an answer off the schema leaves the figures' rationale alone and says why in
`rationale_source`. The API key travels in a header only; it is never printed or stored.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from titan_common.settings import CommonSettings

SYSTEM_PROMPT = (
    "You review a proposed change to an automated crypto trading system's risk settings. You "
    "receive the proposal as JSON: its title, the config diff, and backtest evidence (the "
    "baseline's and the candidate's figures on a searched part and on a held-out part of the "
    "period). Explain in at most five sentences why the change may help, using only the "
    "figures given, and list the risks an operator should weigh before approving it. Do not "
    "invent figures. Answer only with JSON that matches the schema."
)

# OpenAI structured outputs, strict mode: every property required, no other properties
ANSWER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["rationale", "risks"],
    "properties": {
        "rationale": {"type": "string"},
        "risks": {"type": "array", "items": {"type": "string"}},
    },
}
MAX_TEXT = 2000


class QuantSettings(CommonSettings):
    """`titan quant propose`'s own settings (TITAN_QUANT_LLM_*); off without a URL."""

    quant_llm_url: str = ""
    quant_llm_model: str = "gpt-4o-mini"
    quant_llm_api_key: SecretStr = SecretStr("")
    quant_llm_timeout_s: Annotated[float, Field(gt=0, le=120)] = 20.0


class ModelAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    rationale: Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]
    risks: list[Annotated[str, Field(max_length=MAX_TEXT)]]


def model_input(proposal: dict[str, Any]) -> dict[str, Any]:
    """What the model is shown: the proposal's title, diff and evidence."""
    return {key: proposal[key] for key in ("title", "diff", "evidence") if key in proposal}


def ask_model(proposal: dict[str, Any], settings: QuantSettings) -> tuple[ModelAnswer | None, str]:
    """The model's answer and "model:<name>", or None and why it is not there."""
    body = {
        "model": settings.quant_llm_model,
        "temperature": 0,
        "messages": [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": json.dumps(model_input(proposal), separators=(",", ":"), default=str)},
        ],
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "titan_quant_rationale", "strict": True, "schema": ANSWER_SCHEMA},
        },
    }
    headers = {}
    key = settings.quant_llm_api_key.get_secret_value()
    if key:
        headers["Authorization"] = f"Bearer {key}"
    timeout = settings.quant_llm_timeout_s
    try:
        response = httpx.post(settings.quant_llm_url, json=body, headers=headers, timeout=timeout)
    except httpx.TimeoutException:
        return None, f"figures (the model gave no answer within {timeout:g} s)"
    except httpx.HTTPError as exc:
        return None, f"figures (the model could not be reached: {type(exc).__name__})"
    if response.status_code != 200:
        return None, f"figures (the model answered HTTP {response.status_code})"
    try:
        content = response.json()["choices"][0]["message"]["content"]
        answer = ModelAnswer.model_validate_json(content)
    except (ValueError, KeyError, IndexError, TypeError, ValidationError) as exc:
        return None, f"figures (the model's answer is off the schema: {type(exc).__name__})"
    return answer, f"model:{settings.quant_llm_model}"


def narrate(proposals: list[dict[str, Any]], settings: QuantSettings) -> list[dict[str, Any]]:
    """Each proposal with `rationale_source`, and with the model's words when it gave them."""
    out = []
    for proposal in proposals:
        if not settings.quant_llm_url:
            out.append({**proposal, "rationale_source": "figures"})
            continue
        answer, source = ask_model(proposal, settings)
        if answer is None:
            out.append({**proposal, "rationale_source": source})
            continue
        words = answer.rationale.strip()
        if answer.risks:
            words += " Risks: " + "; ".join(r.strip() for r in answer.risks if r.strip()) + "."
        out.append(
            {
                **proposal,
                "rationale": f"{words}\n\nFrom the figures: {proposal['rationale']}",
                "rationale_model": {"model": settings.quant_llm_model, **answer.model_dump()},
                "rationale_source": source,
            }
        )
    return out
