"""The AI gate's I/O half: call the provider, time it out, audit every call.

Providers:
  off     the default: the gate is not consulted
  rules   deterministic, in-process (titan_brain.core.aigate.rules_answer)
  openai  any OpenAI-compatible chat-completions URL; the answer must follow the strict
          JSON schema (structured outputs) and is parsed by pydantic; a hard timeout bounds it

Every call is audited (AIGATE_CALL): redacted input, its hash, verdict or failure code,
latency. The API key is sent in a header only and never logged or audited.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import httpx

from titan_brain.core.aigate import (
    ANSWER_SCHEMA,
    GateOutcome,
    gate_input,
    input_hash,
    judge,
    redact,
    rules_answer,
)
from titan_brain.runtime import metrics
from titan_brain.settings import BrainSettings
from titan_common.messages import Decision, Event, Severity, Signal
from titan_common.reasons import ReasonCode

log = logging.getLogger(__name__)

SYSTEM_PROMPT = (
    "You are the risk gate of an automated crypto futures trading system. You receive one "
    "approved entry (decision, signal, account context) as JSON. Answer ALLOW to let it "
    "through, BLOCK with one or more of the system's reason codes to refuse it, or MODIFY to "
    "reduce its risk: a smaller qty and/or a stop closer to the entry. Never increase qty, "
    "never move the stop away from the entry, never change symbol, side or ids (leave them "
    "null). Answer only with JSON that matches the schema."
)

Emit = Callable[..., Event]


class AIGate:
    def __init__(self, settings: BrainSettings, emit: Emit) -> None:
        self.settings = settings
        self.provider = settings.ai_gate_provider
        self._emit = emit
        self._http = httpx.AsyncClient(timeout=httpx.Timeout(settings.ai_gate_timeout_s))

    @property
    def enabled(self) -> bool:
        return self.provider != "off"

    async def review(self, decision: Decision, signal: Signal, context: dict[str, Any]) -> GateOutcome:
        """The gate's outcome for an approved decision; failures carry their reason code."""
        payload = gate_input(decision, signal, context)
        started = time.perf_counter()
        if self.provider == "rules":
            answer = rules_answer(
                decision,
                signal,
                block_below=self.settings.ai_rules_block_below,
                reduce_below=self.settings.ai_rules_reduce_below,
            )
            outcome = judge(decision, answer.model_dump_json())
            raw: str | None = answer.model_dump_json()
        else:
            outcome, raw = await self._ask_model(decision, payload)
        latency_ms = (time.perf_counter() - started) * 1000
        self._audit(decision, payload, outcome, raw, latency_ms)
        return outcome

    async def _ask_model(self, decision: Decision, payload: dict[str, Any]) -> tuple[GateOutcome, str | None]:
        body = {
            "model": self.settings.ai_gate_model,
            "temperature": 0,
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": json.dumps(payload, separators=(",", ":"), default=str)},
            ],
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "titan_aigate_verdict", "strict": True, "schema": ANSWER_SCHEMA},
            },
        }
        headers = {}
        key = self.settings.ai_gate_api_key.get_secret_value()
        if key:
            headers["Authorization"] = f"Bearer {key}"
        try:
            # the client's timeout bounds each phase; wait_for bounds the whole call
            response = await asyncio.wait_for(
                self._http.post(self.settings.ai_gate_url, json=body, headers=headers),
                timeout=self.settings.ai_gate_timeout_s,
            )
        except (TimeoutError, httpx.TimeoutException):
            return GateOutcome(None, None, ReasonCode.AIGATE_TIMEOUT, "no answer within the timeout"), None
        except httpx.HTTPError as exc:
            return GateOutcome(None, None, ReasonCode.AIGATE_ERROR, f"{type(exc).__name__}"), None
        if response.status_code != 200:
            return GateOutcome(None, None, ReasonCode.AIGATE_ERROR, f"HTTP {response.status_code}"), response.text
        try:
            content = response.json()["choices"][0]["message"]["content"]
            if not isinstance(content, str):
                raise TypeError("content is not a string")
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            detail = f"not a chat-completions answer: {type(exc).__name__}"
            return GateOutcome(None, None, ReasonCode.AIGATE_PARSE_FAIL, detail), response.text
        return judge(decision, content), content

    def _audit(
        self, decision: Decision, payload: dict[str, Any], outcome: GateOutcome, raw: str | None, latency_ms: float
    ) -> None:
        verdict = outcome.verdict.value if outcome.verdict else "ERROR"
        metrics.AIGATE_CALLS.labels(self.provider, outcome.failure.value if outcome.failure else verdict).inc()
        metrics.AIGATE_LATENCY_MS.labels(self.provider).observe(latency_ms)
        self._emit(
            "AIGATE_CALL",
            severity=Severity.WARNING if outcome.failure else Severity.INFO,
            reason_code=outcome.failure,
            stage="AIGATE_CALL",
            correlation=decision.correlation,
            payload={
                "provider": self.provider,
                "model": self.settings.ai_gate_model if self.provider == "openai" else None,
                "input_hash": input_hash(payload),
                "input": redact(payload),
                "answer": redact(raw) if raw is not None else None,
                "verdict": verdict,
                "error_code": outcome.failure.value if outcome.failure else None,
                "detail": redact(outcome.detail, 500),
                "latency_ms": round(latency_ms, 3),
                "decision_id": outcome.decision.decision_id if outcome.decision else decision.decision_id,
            },
        )
        log.info(
            "AIGATE %s %s -> %s (%.1f ms)%s",
            decision.symbol,
            decision.signal_id,
            verdict,
            latency_ms,
            f" {outcome.failure}: {outcome.detail}" if outcome.failure else "",
        )

    async def close(self) -> None:
        await self._http.aclose()
