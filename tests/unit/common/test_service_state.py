"""A service's mode must change even when its audit trail cannot take the MODE_CHANGE event."""

from __future__ import annotations

from pathlib import Path

from titan_common.audit import AuditWriter, WriterState
from titan_common.clock import now_ms
from titan_common.db.engine import make_engine
from titan_common.messages import Event
from titan_common.reasons import ReasonCode
from titan_common.service import ServiceRuntime
from titan_common.settings import CommonSettings
from titan_common.system_state import Mode


def test_set_reason_never_raises_when_the_audit_queue_is_full(tmp_path: Path) -> None:
    # the writer is never started and its engine never connects: no I/O happens here
    writer = AuditWriter(
        make_engine("postgresql://nobody@127.0.0.1:1/none"), service="svc", audit_dir=tmp_path, max_queue=2
    )
    for n in range(2):
        writer.submit(Event(ts_ms=now_ms(), service="svc", event_type="FILL", payload={"n": n}))
    assert writer.state is WriterState.FULL
    runtime = ServiceRuntime(name="svc", settings=CommonSettings(var_dir=tmp_path), needs_redis=False)
    runtime.audit = writer

    runtime.set_reason(ReasonCode.KILL_SWITCH)  # must not raise AuditQueueFull

    assert runtime.state.mode is Mode.PAUSE
    assert ReasonCode.KILL_SWITCH in runtime.state.reasons
    assert ReasonCode.DB_WRITER_QUEUE_FULL in runtime.state.reasons
