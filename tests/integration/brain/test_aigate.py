"""The AI gate against a local OpenAI-compatible server over real HTTP.

In-process (the pipeline with a real AIGate, real Redis and Postgres): a timeout, invalid
JSON, a schema violation, an unknown reason code and an HTTP error each veto with their
reason code under the deterministic fallback (hunting: skip); a MODIFY that raises qty is
rejected, one that lowers it is applied. As a process in LIVE with AI_DEC=2: a failure
blocks the decision and pauses the brain until an operator recovers it; every call is in
the audit trail, without the API key.
"""

from __future__ import annotations

import json
import uuid
from decimal import Decimal as D
from typing import Any

import pytest
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.integration.brain.conftest import StubServer, add_user, arm, make_signal, running_brain, wait_for_decisions
from tests.integration.brain.test_pipeline import brain_settings, delivery, fresh_state, normal, published, signal_for
from tests.processes import until
from titan_brain.core.aigate import FailureAction, modified_decision_id
from titan_brain.runtime.aigate import AIGate
from titan_brain.runtime.pipeline import SignalPipeline
from titan_common.bus import StreamProducer, StreamSpec
from titan_common.clock import now_ms
from titan_common.db.engine import make_engine, make_sessionmaker
from titan_common.db.models import AuditEvent
from titan_common.messages import Decision, Event, OrderIntent, Verdict
from titan_common.reasons import ReasonCode

pytestmark = pytest.mark.integration

API_KEY = "sk-test-" + uuid.uuid4().hex


def answer(verdict: str = "ALLOW", reasons: list[str] | None = None, **modify: Any) -> str:
    change = None
    if modify:
        change = {"qty": None, "stop_loss": None, "symbol": None, "side": None, "signal_id": None, "decision_id": None}
        change.update(modify)
    return json.dumps({"verdict": verdict, "reasons": reasons or [], "modify": change, "comment": "stub"})


class Audit:
    """Collects what the gate hands to the audit trail (the runtime's emit)."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def __call__(self, event_type: str, **values: Any) -> Event:
        self.events.append({"event_type": event_type, **values})
        return Event(ts_ms=now_ms(), service="brain", event_type=event_type, payload=values.get("payload") or {})


class Harness:
    def __init__(self, pipeline: SignalPipeline, audit: Audit, failures: list[tuple[ReasonCode, FailureAction]]):
        self.pipeline = pipeline
        self.audit = audit
        self.failures = failures


@pytest.fixture
def harness_for(
    database_url: str, redis_url: str, redis: Redis, sessions: async_sessionmaker[AsyncSession],
    openai_stub: StubServer,
) -> Any:  # fmt: skip
    def build(**settings: Any) -> tuple[Harness, StreamSpec[OrderIntent]]:
        values = {
            "ai_gate_provider": "openai",
            "ai_gate_url": openai_stub.completions_url,
            "ai_gate_api_key": API_KEY,
            "ai_gate_timeout_s": 0.5,
            "ai_gate_model": "stub-model",
            **settings,
        }
        config = brain_settings(database_url, redis_url, **values)
        audit = Audit()
        failures: list[tuple[ReasonCode, FailureAction]] = []
        spec = StreamSpec(f"test:brain:intents:{uuid.uuid4().hex[:8]}", OrderIntent)
        pipeline = SignalPipeline(
            sessions=sessions,
            producer=StreamProducer(redis, spec),
            state=fresh_state(config),
            read_mode=normal,
            gate=AIGate(config, audit),
            on_gate_failure=lambda code, action, _decision: failures.append((code, action)),
        )
        return Harness(pipeline, audit, failures), spec

    return build


async def decide(harness: Harness) -> Decision:
    signal = signal_for("BTCUSDT")  # phase 2 at 10,000: 67.93785950 units (costs included), stop 98
    result = await harness.pipeline.process([delivery(signal)])
    [record] = result.decided
    return record.decision


@pytest.mark.parametrize(
    ("script", "failure"),
    [
        ({"content": answer(), "delay_s": 5.0}, ReasonCode.AIGATE_TIMEOUT),
        ({"content": "ALLOW, I think"}, ReasonCode.AIGATE_PARSE_FAIL),
        ({"content": '{"verdict": "ALLOW", "reasons": []}'}, ReasonCode.AIGATE_SCHEMA_INVALID),
        ({"content": answer("BLOCK", ["TOO_SPICY"])}, ReasonCode.AIGATE_REASON_UNKNOWN),
        ({"content": answer("MODIFY", qty="80")}, ReasonCode.AIGATE_MODIFY_INVALID),
        ({"content": answer("MODIFY", stop_loss="97")}, ReasonCode.AIGATE_MODIFY_INVALID),
        ({"content": answer(), "status": 500}, ReasonCode.AIGATE_ERROR),
    ],
    ids=["timeout", "invalid-json", "schema", "unknown-reason", "modify-raises-qty", "modify-loosens-stop", "http-500"],
)
async def test_a_failing_gate_skips_the_entry_with_its_reason_code(
    harness_for: Any,
    openai_stub: StubServer,
    redis: Redis,
    armed_in_process: None,
    script: dict[str, Any],
    failure: ReasonCode,
) -> None:
    harness, spec = harness_for()
    openai_stub.script(**script)
    decision = await decide(harness)
    assert decision.verdict is Verdict.VETO
    assert decision.reasons == (failure,)
    assert await published(redis, spec) == []  # no intent
    assert harness.failures == [(failure, FailureAction.SKIP)]  # PAPER: hunting, so skip
    [call] = harness.audit.events
    assert call["event_type"] == "AIGATE_CALL"
    assert call["reason_code"] is failure
    payload = call["payload"]
    assert payload["error_code"] == failure.value
    assert payload["verdict"] == "ERROR"
    assert len(payload["input_hash"]) == 64
    if failure is ReasonCode.AIGATE_TIMEOUT:
        assert 450 <= payload["latency_ms"] < 4000  # cut at the 0.5 s timeout, long before the server's 5 s
    assert API_KEY not in json.dumps(harness.audit.events, default=str)


async def test_a_modify_that_lowers_qty_is_applied(
    harness_for: Any, openai_stub: StubServer, redis: Redis, armed_in_process: None
) -> None:
    harness, spec = harness_for()
    openai_stub.script(content=answer("MODIFY", qty="30", stop_loss="98.5"))
    decision = await decide(harness)
    assert decision.verdict is Verdict.APPROVE
    assert decision.qty == D(30)
    assert decision.stop_loss == D("98.5")
    assert decision.risk_usd == D(45)
    # its costs are priced again for the new qty and stop: 30 x (1.5 + 0.00105 x 198.5)
    assert decision.risk_with_costs_usd == D("51.25275")
    assert decision.expected_fees_usd == 30 * D("0.00055") * D("198.5")
    assert decision.decision_id == modified_decision_id(decision.signal_id)
    [intent] = await published(redis, spec)
    assert intent.qty == D(30)
    assert intent.stop_loss == D("98.5")
    assert intent.correlation.decision_id == decision.decision_id
    assert harness.audit.events[0]["payload"]["verdict"] == "MODIFY"
    # what the brain sent: the strict JSON schema, the model, the key in the header only
    [request] = openai_stub.requests()
    assert request["headers"]["authorization"] == f"Bearer {API_KEY}"
    body = request["body"]
    assert body["model"] == "stub-model"
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["strict"] is True
    assert body["response_format"]["json_schema"]["schema"]["additionalProperties"] is False
    assert API_KEY not in json.dumps(body)


async def test_allow_and_block(harness_for: Any, openai_stub: StubServer, armed_in_process: None) -> None:
    harness, _spec = harness_for()
    openai_stub.script(content=answer())
    assert (await decide(harness)).verdict is Verdict.APPROVE
    harness, _spec = harness_for()
    openai_stub.script(content=answer("BLOCK", ["EDGE_TOO_LOW"]))
    blocked = await decide(harness)
    assert blocked.verdict is Verdict.VETO
    assert blocked.reasons == (ReasonCode.EDGE_TOO_LOW,)
    assert harness.failures == []


async def test_live_with_ai_dec_2_blocks_and_pauses(
    harness_for: Any, openai_stub: StubServer, armed_in_process: None
) -> None:
    harness, _spec = harness_for(system_mode="LIVE", ai_dec=2)
    openai_stub.script(content="{not json")
    decision = await decide(harness)
    assert decision.reasons == (ReasonCode.AIGATE_PARSE_FAIL,)
    assert harness.failures == [(ReasonCode.AIGATE_PARSE_FAIL, FailureAction.BLOCK_AND_PAUSE)]


async def test_a_mandatory_gate_without_a_provider_fails_closed(
    harness_for: Any, redis: Redis, armed_in_process: None
) -> None:
    harness, spec = harness_for(system_mode="LIVE", ai_dec=2)
    # the settings refuse to start so (LIVE, AI_DEC=2, provider off); past them, no approval
    # goes out unreviewed either
    harness.pipeline.gate = None
    decision = await decide(harness)
    assert decision.verdict is Verdict.VETO
    assert decision.reasons == (ReasonCode.AIGATE_ERROR,)
    assert harness.failures == [(ReasonCode.AIGATE_ERROR, FailureAction.BLOCK_AND_PAUSE)]
    assert await published(redis, spec) == []


async def test_rules_provider_in_the_pipeline(harness_for: Any, armed_in_process: None) -> None:
    harness, _spec = harness_for(ai_gate_provider="rules")
    signal = signal_for("BTCUSDT", confidence="0.6")  # between block (0.5) and reduce (0.65): half size
    [record] = (await harness.pipeline.process([delivery(signal)])).decided
    assert record.decision.verdict is Verdict.APPROVE
    assert record.decision.qty == D("33.96892975")  # half of 67.93785950 (sized with costs)
    assert harness.audit.events[0]["payload"]["provider"] == "rules"


async def test_a_live_brain_process_pauses_on_a_gate_failure_until_recovered(
    private_database: str, redis_url: str, tmp_path: Any, openai_stub: StubServer,
) -> None:  # fmt: skip
    engine = make_engine(private_database)
    try:
        await _live_brain_pauses_until_recovered(private_database, redis_url, tmp_path, make_sessionmaker(engine),
                                                 openai_stub)  # fmt: skip
    finally:
        await engine.dispose()


async def _live_brain_pauses_until_recovered(
    database_url: str, redis_url: str, tmp_path: Any, sessions: async_sessionmaker[AsyncSession],
    openai_stub: StubServer,
) -> None:  # fmt: skip
    openai_stub.script(content='{"verdict": "ALLOW"}')  # a schema violation
    (tmp_path / "LIVE.ok").touch()  # the process's LIVE locks (titan_common.live)
    async with running_brain(
        database_url, redis_url, tmp_path, redis_db_index=8,
        SYSTEM_MODE="LIVE", TITAN_LIVE="1", TITAN_INTERNAL_TOKEN=f"live-{uuid.uuid4().hex}",
        AI_DEC="2", TITAN_AI_GATE_PROVIDER="openai",
        TITAN_AI_GATE_URL=openai_stub.completions_url, TITAN_AI_GATE_API_KEY=API_KEY, TITAN_AI_GATE_TIMEOUT_S="1",
    ) as brain:  # fmt: skip
        await arm(sessions, True)
        await brain.wallet("10000")
        first = make_signal("BTCUSDT")
        await brain.signal(first)
        found = await wait_for_decisions(sessions, [first.signal_id])
        assert found[first.signal_id].reasons == ["AIGATE_SCHEMA_INVALID"]
        health = await until(lambda: brain.health() if brain.health()["mode"] == "PAUSE" else None, what="PAUSE")
        assert "AIGATE_SCHEMA_INVALID" in health["reasons"]
        # paused: the next entry is refused before the gate is even asked
        openai_stub.script(content=answer())
        second = make_signal("ETHUSDT")
        await brain.signal(second)
        assert (await wait_for_decisions(sessions, [second.signal_id]))[second.signal_id].reasons == ["MODE_NOT_NORMAL"]
        assert openai_stub.requests() == []
        async with sessions() as session:
            calls = list(
                await session.scalars(
                    select(AuditEvent).where(
                        AuditEvent.event_type == "AIGATE_CALL", AuditEvent.signal_id == first.signal_id
                    )
                )
            )
        assert len(calls) == 1
        assert calls[0].reason_code == "AIGATE_SCHEMA_INVALID"
        assert calls[0].payload["input_hash"]
        assert API_KEY not in json.dumps(calls[0].payload)
        # recovery is a person's act, recorded under their name: an admin's in LIVE
        await add_user(sessions, "gate-ops", "gate-pass", "operator")
        await add_user(sessions, "gate-admin", "gate-pass", "admin")
        assert brain.post("/aigate/reset", json={"reason": "provider fixed"}).status_code == 401
        as_operator = brain.post("/aigate/reset", json={"reason": "provider fixed"}, auth=("gate-ops", "gate-pass"))
        assert as_operator.status_code == 403
        recovered = brain.post("/aigate/reset", json={"reason": "provider fixed"}, auth=("gate-admin", "gate-pass"))
        assert recovered.status_code == 200
        assert recovered.json()["cleared"] == ["AIGATE_SCHEMA_INVALID"]
        assert brain.health()["mode"] == "NORMAL"
        third = make_signal("XRPUSDT")
        await brain.signal(third)
        assert (await wait_for_decisions(sessions, [third.signal_id]))[third.signal_id].verdict == "APPROVE"
        await arm(sessions, False)
