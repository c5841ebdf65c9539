"""Operator actions: master arm, flatten, cancel-all, the kill switch and its recovery,
the breaker reset. Each names the authenticated user as operator; a body `operator_id`
is kept only as a label in the request record.

Emergency actions (flatten, cancel-all, kill switch) reduce risk: they run whatever the
mode, answer per item, are safe to repeat, and are recorded with operator, request,
result and duration. They do not wait on the audit trail (see execution's decision).
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy.dialects.postgresql import insert

from titan_common.audit import AuditQueueFull
from titan_common.auth.roles import Role, role_for_live
from titan_common.clock import now_ms
from titan_common.db.engine import DB_ERRORS, transaction
from titan_common.db.models import OperatorAction, SystemFlag
from titan_common.events import EventType, MasterArmChange, payload_of
from titan_common.flags import KILL_SWITCH, read_flag
from titan_common.messages import ControlCommand, Severity
from titan_common.reasons import ReasonCode
from titan_console.core import kill_switch
from titan_console.core.venues import VenueFailure, merge_actions
from titan_console.errors import ConsoleError
from titan_console.runtime.authenticator import Principal
from titan_console.runtime.context import Console

log = logging.getLogger(__name__)
# Postgres unreachable, as a console action sees it (no sessions yet is a 503 ConsoleError)
STORE_DOWN: tuple[type[Exception], ...] = (ConsoleError, *DB_ERRORS)


def _elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def need_role(who: Principal, role: Role, what: str) -> None:
    if not who.role.at_least(role):
        raise ConsoleError(403, "ADMIN_REQUIRED" if role is Role.ADMIN else "FORBIDDEN", f"{what} needs {role.value}")


def emit_audited(console: Console, event_type: str, who: Principal, **kwargs: Any) -> None:
    try:
        console.runtime.emit(event_type, operator_id=who.username, **kwargs)
    except AuditQueueFull:
        log.critical("audit queue full: %s by %s not in audit_events", event_type, who.username)


async def _arm(console: Console, who: Principal, reason: str, request: dict[str, Any]) -> bool:
    """Master arm on, at execution (its one writer): the first venue's execution that answers
    writes the one flag and its record. Returns the previous state."""
    forwarded = {"reason": reason[:500], "request": request}
    failure: ConsoleError | None = None
    for service in console.settings.venue_services("execution").values():
        try:
            answer = await console.upstream.json(
                service, "POST", "/api/safety/arm", operator_id=who.username, json=forwarded
            )
        except ConsoleError as exc:
            if exc.status != 503:  # refused (the kill switch, a role): the same for every venue
                raise
            failure = failure or exc
            continue
        previous = answer.get("previous_state") is True
        console.deferred[:] = [d for d in console.deferred if not isinstance(d, _DisarmHandOver)]
        console.state.disarm_pending = False
        console.state.master_arm = True
        change = MasterArmChange(master_arm=True, previous_state=previous, reason=reason)
        emit_audited(console, EventType.MASTER_ARM_CHANGE, who, severity=Severity.INFO, payload=payload_of(change))
        return previous
    raise failure or ConsoleError(503, "EXECUTION_UNAVAILABLE", "no execution is configured")


def _announce_disarm(console: Console, who: Principal, previous: bool, reason: str) -> None:
    console.state.master_arm = False
    change = MasterArmChange(master_arm=False, previous_state=previous, reason=reason)
    emit_audited(console, EventType.MASTER_ARM_CHANGE, who, severity=Severity.WARNING, payload=payload_of(change))


async def _disarm_at_the_door(console: Console, who: Principal, reason: str, request: dict[str, Any]) -> list[Any]:
    """Every venue's execution latches the disarm (one door per venue account) and writes the
    one master-arm flag with its record, now or when Postgres returns. Returns the answers
    of those that took it; raises ConsoleError when none answered."""
    forwarded = {"reason": reason[:500], "request": request}
    answers = await console.upstream.each_venue("POST", "/api/safety/disarm", operator_id=who.username, json=forwarded)
    for venue, answer in answers.items():
        if isinstance(answer, VenueFailure):
            log.error("%s's execution did not take the disarm: %s", venue, answer.message)
    taken = [a for a in answers.values() if not isinstance(a, VenueFailure) and a.get("success") is True]
    if not taken:
        raise ConsoleError(503, "EXECUTION_UNAVAILABLE", "no execution took the disarm")
    return taken


@dataclass
class _DisarmHandOver:
    """A disarm no execution answered, handed over when one does (the console's deferred loop);
    an operator's later arm drops it: the latest decision wins."""

    console: Console
    who: Principal
    reason: str
    request: dict[str, Any]

    async def __call__(self) -> None:
        await _disarm_at_the_door(self.console, self.who, self.reason, self.request)
        self.console.state.disarm_pending = False


async def _disarm(console: Console, who: Principal, reason: str, request: dict[str, Any]) -> dict[str, Any]:
    """Disarm at the one door. When no execution answers, nothing can reach a venue anyway:
    the console shows master arm off and hands the disarm to execution when it returns
    (before it takes any intent from the stream, its startup reconcile runs first)."""
    try:
        taken = await _disarm_at_the_door(console, who, reason, request)
    except ConsoleError as exc:
        log.critical("execution did not take the disarm (%s); handed over when it returns", exc.message)
        previous = console.state.master_arm is True  # the last state this console knew

        console.deferred.append(_DisarmHandOver(console, who, reason, request))
        console.state.disarm_pending = True
        _announce_disarm(console, who, previous, reason)
        return {"previous_state": previous, "persisted": False, "execution": False}
    persisted = any(a.get("persisted") is True for a in taken)
    previous = any(a.get("previous_state") is True for a in taken)
    if not persisted:
        log.critical("Postgres did not take the disarm yet; execution holds it and writes it when it returns")
        previous = previous or console.state.master_arm is True
    _announce_disarm(console, who, previous, reason)
    return {"previous_state": previous, "persisted": persisted, "execution": True}


async def master_arm(console: Console, who: Principal, enabled: bool, label: str | None) -> dict[str, Any]:
    if enabled:
        need_role(who, role_for_live(console.live, raises_risk=True), "arming in LIVE")
        await console.state.refresh_flags()
        if console.state.kill_switch.get("engaged"):
            raise ConsoleError(
                409, "KILL_SWITCH_ENGAGED", "the kill switch is engaged; an admin must clear it before arming"
            )
        await console.state.refresh_breaker()
        breaker = console.state.breaker or {}
        if breaker.get("active") is True:
            raise ConsoleError(
                409, ReasonCode.BREAKER_ACTIVE.value, "the circuit breaker is active; reset it (with a reason) first"
            )
    request = {"enabled": enabled, "label": label, "via": who.via}
    reason = f"console ({label})" if label else "console"
    if not enabled:
        # the runbook's answer, exactly; whether Postgres has it yet is in the log and the audit
        disarmed = await _disarm(console, who, reason, request)
        return {
            "master_arm": False,
            "status": "DISARMED",
            "previous_state": disarmed["previous_state"],
            "operator_id": who.username,
        }
    previous = await _arm(console, who, reason=reason, request=request)
    return {
        "master_arm": enabled,
        "status": "ARMED" if enabled else "DISARMED",
        "previous_state": previous,
        "operator_id": who.username,
    }


async def emergency(
    console: Console, who: Principal, action: str, path: str, label: str | None, *, venue: str | None = None
) -> dict[str, Any]:
    """Forward flatten, cancel-all or a close to every venue's execution (or `venue`'s alone),
    acting as the operator."""
    started = time.monotonic()
    request = {"path": path, "label": label, "via": who.via, **({"venue": venue} if venue else {})}
    emit_audited(console, f"{action}_REQUESTED", who, severity=Severity.WARNING, payload=request)
    try:
        # every venue's execution at once: one that does not answer never stops the others
        answers = await console.upstream.each_venue("POST", path, operator_id=who.username, venue=venue)
        body = merge_actions(answers)
    except ConsoleError as exc:
        result = {"success": False, "error": exc.code, "message": exc.message, "duration_ms": _elapsed_ms(started)}
        await console.record(f"CONSOLE_{action}", who.username, request, result, False)
        raise
    result = {**body, "duration_ms": _elapsed_ms(started)}
    await console.record(f"CONSOLE_{action}", who.username, request, result, body.get("success") is True)
    # execution disarms when it flattens: the operator's next read must say so (the snapshot
    # follows the operator's own action), but a slow or absent database never holds the answer
    await console.state.follow_action()
    return dict(body)


# --- the kill switch ------------------------------------------------------------------


def issue_code(console: Console, who: Principal) -> dict[str, Any]:
    code = kill_switch.format_code(secrets.token_bytes(8))
    challenge = console.challenges.issue(who.username, code, now_ms())
    return {
        "status": "CONFIRMATION_REQUIRED",
        "confirmation_code": challenge.code,
        "expires_ms": challenge.expires_ms,
        "message": "send this confirmation_code back to engage the kill switch",
        "steps": list(kill_switch.STEPS),
    }


async def engage_kill_switch(console: Console, who: Principal, code: str, label: str | None) -> dict[str, Any]:
    if not console.challenges.redeem(who.username, code, now_ms()):
        raise ConsoleError(
            403,
            "CONFIRMATION_CODE_INVALID",
            "wrong or expired confirmation code; ask for a new one (POST without a code)",
        )
    started = time.monotonic()
    request = {"label": label, "via": who.via}
    emit_audited(console, "KILL_SWITCH_REQUESTED", who, severity=Severity.CRITICAL, reason_code=ReasonCode.KILL_SWITCH)
    steps: list[dict[str, Any]] = []
    summary: dict[str, Any] = {"positions_closed": 0, "orders_cancelled": 0}

    async def step(name: str, run: Any) -> None:
        began = time.monotonic()
        try:
            detail = await run()
            ok = detail.pop("success", True) is True
            steps.append({"step": name, "success": ok, "duration_ms": _elapsed_ms(began), **detail})
        except Exception as exc:  # one failed step must not stop the ones after it
            log.error("kill switch step %s failed: %s", name, exc)
            message = exc.message if isinstance(exc, ConsoleError) else f"{type(exc).__name__}: {exc}"
            steps.append({"step": name, "success": False, "duration_ms": _elapsed_ms(began), "error": message})

    async def every_venue(path: str) -> dict[str, Any]:
        return merge_actions(await console.upstream.each_venue("POST", path, operator_id=who.username))

    async def flatten() -> dict[str, Any]:
        body = await every_venue("/positions/flatten")
        summary["positions_closed"] = body.get("positions_closed", 0)
        summary["orders_cancelled"] += body.get("orders_cancelled", 0)  # flatten cancels first
        return {"success": body.get("success") is True, "positions_closed": body.get("positions_closed"),
                "results": body.get("results", []), "venues": body["venues"]}  # fmt: skip

    async def cancel_all() -> dict[str, Any]:
        body = await every_venue("/orders/cancel-all")
        summary["orders_cancelled"] += body.get("orders_cancelled", 0)
        return {"success": body.get("success") is True, "orders_cancelled": body.get("orders_cancelled"),
                "venues": body["venues"]}  # fmt: skip

    async def disarm() -> dict[str, Any]:
        return {"success": True, **await _disarm(console, who, "kill switch", {"enabled": False, **request})}

    async def pause_scavenger() -> dict[str, Any]:
        receivers = await console.control(ControlCommand.PAUSE, who.username, target="scavenger", reason="kill switch")
        return {"success": True, "receivers": receivers}

    async def pause_system() -> dict[str, Any]:
        # the PAUSE first: it must hold even when Postgres cannot keep it across a restart yet
        console.runtime.set_reason(ReasonCode.KILL_SWITCH, True)
        try:
            receivers: int | str = await console.control(
                ControlCommand.KILL_SWITCH, who.username, target="all", reason="kill switch"
            )
        except Exception as exc:  # Redis down: the flag below still holds the PAUSE (services read it)
            log.critical("kill switch not broadcast on titan:control: %s", exc)
            receivers = f"not broadcast: {type(exc).__name__}"
        persisted = True
        why = label or "kill switch"
        try:
            await persist_kill_switch(console, who, engaged=True, reason=why)
        except STORE_DOWN as exc:
            log.critical("kill switch flag not in Postgres (%s); written when it returns", exc)
            console.deferred.append(lambda: persist_kill_switch(console, who, engaged=True, reason=why))
            console.state.kill_switch = {"engaged": True, "reason": why, "engaged_by": who.username}
            persisted = False
        mode = console.runtime.state.mode.value
        return {"success": True, "mode": mode, "receivers": receivers, "persisted": persisted}

    for name, run in zip(kill_switch.STEPS, (flatten, cancel_all, disarm, pause_scavenger, pause_system), strict=True):
        await step(name, run)
    await console.state.follow_action()
    success = kill_switch.outcome(steps)
    system = await console.state.refresh_system()
    result = {
        "success": success,
        "mode": system.mode.value,
        "reason_code": ReasonCode.KILL_SWITCH.value,
        "steps": steps,
        "positions_closed": summary["positions_closed"],
        "orders_cancelled": summary["orders_cancelled"],
        "master_arm": False,
        "operator_id": who.username,
        "duration_ms": _elapsed_ms(started),
    }
    await console.record("KILL_SWITCH", who.username, request, result, success)
    emit_audited(
        console,
        EventType.ALERT,
        who,
        severity=Severity.CRITICAL,
        reason_code=ReasonCode.KILL_SWITCH,
        payload={"message": f"kill switch engaged by {who.username}", "success": success},
    )
    await console.raise_alert(
        "CRITICAL", "KILL_SWITCH", f"kill switch engaged by {who.username}", ReasonCode.KILL_SWITCH.value
    )
    return result


async def persist_kill_switch(console: Console, who: Principal, *, engaged: bool, reason: str) -> None:
    """The system_flags row that keeps PAUSE across console restarts, with its history row."""
    if console.runtime.sessions is None:
        raise ConsoleError(503, ReasonCode.DB_UNAVAILABLE.value, "the database is not connected")
    ts = now_ms()
    value = {"engaged": engaged, "reason": reason, "changed_ms": ts, "changed_by": who.username}
    async with transaction(console.runtime.sessions) as session:
        previous = await read_flag(session, KILL_SWITCH) or {}
        if engaged:
            value["engaged_ms"] = ts
            value["engaged_by"] = who.username
        else:
            value["engaged_ms"] = previous.get("engaged_ms")
            value["engaged_by"] = previous.get("engaged_by")
        row = {"name": KILL_SWITCH, "value": value, "updated_ms": ts, "updated_by": who.username}
        statement = insert(SystemFlag).values(**row)
        await session.execute(statement.on_conflict_do_update(index_elements=["name"], set_=row))
        session.add(
            OperatorAction(
                ts_ms=ts,
                operator_id=who.username,
                action="KILL_SWITCH_FLAG",
                request={"engaged": engaged, "reason": reason},
                result={"previous": previous.get("engaged", False), "engaged": engaged},
                success=True,
            )
        )
    console.state.kill_switch = value


async def recover_kill_switch(console: Console, who: Principal, reason: str) -> dict[str, Any]:
    """Manual recovery (admin): clear the flag and the PAUSE, resume the scavenger. Master
    arm stays off; re-arming is a separate, deliberate step."""
    started = time.monotonic()
    was = bool((console.state.kill_switch or {}).get("engaged"))
    await persist_kill_switch(console, who, engaged=False, reason=reason)
    console.runtime.set_reason(ReasonCode.KILL_SWITCH, False)
    receivers = 0
    try:
        receivers = await console.control(
            ControlCommand.RESUME, who.username, target="all", reason="kill switch cleared"
        )
    except Exception as exc:
        log.error("RESUME not broadcast after clearing the kill switch: %s", exc)
    emit_audited(console, "KILL_SWITCH_CLEARED", who, severity=Severity.WARNING, payload={"reason": reason})
    system = await console.state.refresh_system()
    result = {
        "success": True,
        "kill_switch": False,
        "was_engaged": was,
        "mode": system.mode.value,
        "reason_codes": [r.value for r in system.reasons],
        "master_arm": console.state.master_arm,
        "resume_receivers": receivers,
        "operator_id": who.username,
        "duration_ms": _elapsed_ms(started),
    }
    await console.record("KILL_SWITCH_RECOVER", who.username, {"reason": reason}, result, True)
    return result


async def clear_protection_failed(console: Console, who: Principal, reason: str) -> dict[str, Any]:
    """Forward an admin's reviewed clear of PROTECTION_FAILED to execution (its owner)."""
    started = time.monotonic()
    action, path = "CONSOLE_PROTECTION_FAILED_CLEAR", "/api/safety/protection-failed/clear"
    request = {"reason": reason, "via": who.via}
    try:
        body = await console.upstream.json("execution", "POST", path, operator_id=who.username, json={"reason": reason})
    except ConsoleError as exc:
        result = {"success": False, "error": exc.code, "message": exc.message, "duration_ms": _elapsed_ms(started)}
        await console.record(action, who.username, request, result, False)
        raise
    result = {**body, "duration_ms": _elapsed_ms(started)}
    await console.record(action, who.username, request, result, body.get("success") is True)
    await console.state.refresh_system()
    return dict(body)


# --- circuit breaker ------------------------------------------------------------------


async def reset_breaker(console: Console, who: Principal, reason: str) -> dict[str, Any]:
    need_role(who, role_for_live(console.live, raises_risk=True), "resetting the circuit breaker in LIVE")
    started = time.monotonic()
    request = {"reason": reason, "via": who.via}
    try:
        forwarded = {"reason": reason, "operator_id": who.username}
        body = await console.upstream.json("brain", "POST", "/breaker/reset", operator_id=who.username, json=forwarded)
    except ConsoleError as exc:
        failure = {"success": False, "error": exc.code, "duration_ms": _elapsed_ms(started)}
        await console.record("BREAKER_RESET", who.username, request, failure, False)
        raise
    await console.record("BREAKER_RESET", who.username, request, {**body, "duration_ms": _elapsed_ms(started)}, True)
    await console.state.refresh_breaker()
    return {"success": True, "operator_id": who.username, "reason": reason, "breaker": body}
