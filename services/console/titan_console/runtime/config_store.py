"""Config versions: every change appends one, and services reload it live.

A change runs in one transaction under an advisory lock (two consoles, or two clicks,
cannot both edit the same base): read the active version, apply the edit (bounds checked
in core), append the new version with its operator_actions row, commit. Then
CONFIG_CHANGE is emitted on titan:events and CONFIG_CHANGED published on titan:control,
which the brain and the scavenger reload on.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from titan_common.auth.roles import role_for_live
from titan_common.clock import now_ms
from titan_common.config import CONFIG_LOCK_KEY, DEFAULT_TAG, TradingConfig, active_config, config_diff, save_config
from titan_common.db.engine import transaction
from titan_common.db.models import ConfigVersion, OperatorAction
from titan_common.events import ConfigChange, EventType, payload_of
from titan_common.messages import ControlCommand
from titan_console.core import config_edit
from titan_console.errors import ConsoleError
from titan_console.runtime import metrics
from titan_console.runtime.actions import emit_audited
from titan_console.runtime.authenticator import Principal
from titan_console.runtime.context import Console

log = logging.getLogger(__name__)


def config_body(tag: str, config: TradingConfig, created_ms: int, operator_id: str) -> dict[str, Any]:
    return {
        "version_tag": tag,
        "changed_by": operator_id,
        "created_ms": created_ms,
        **config.model_dump(mode="json", by_alias=True),
    }


async def current(console: Console) -> dict[str, Any]:
    if console.runtime.sessions is None:
        raise ConsoleError(503, "DB_UNAVAILABLE", "the database is not connected")
    async with console.runtime.sessions() as session:
        active = await active_config(session)
    return config_body(active.version_tag, active.config, active.created_ms, active.operator_id)


async def versions(console: Console, limit: int) -> dict[str, Any]:
    """Newest first, each with its diff against the version before it."""
    if console.runtime.sessions is None:
        raise ConsoleError(503, "DB_UNAVAILABLE", "the database is not connected")
    async with console.runtime.sessions() as session:
        rows = list(
            (await session.scalars(select(ConfigVersion).order_by(ConfigVersion.id.desc()).limit(limit + 1))).all()
        )
    items = []
    defaults = TradingConfig().model_dump(mode="json", by_alias=True)
    for index, row in enumerate(rows[:limit]):
        before = rows[index + 1].config if index + 1 < len(rows) else defaults
        changes = config_diff(before, row.config)
        items.append(
            {
                "version_tag": row.version_tag,
                "created_ms": row.created_ms,
                "changed_by": row.operator_id,
                "change_summary": row.comment,
                "rolled_back_from": row.rolled_back_from,
                "diff": changes,
                "active": index == 0,
            }
        )
    return {"count": len(items), "active": items[0]["version_tag"] if items else DEFAULT_TAG, "versions": items}


async def change(
    console: Console,
    who: Principal,
    *,
    action: str,
    request: dict[str, Any],
    edit: Callable[[TradingConfig, list[ConfigVersion]], tuple[TradingConfig, str | None]],
    needs_history: bool = False,
    expect_version: str | None = None,
    summary_prefix: str = "",
    on_saved: Callable[[AsyncSession, str], Awaitable[None]] | None = None,
) -> dict[str, Any]:
    """Apply `edit` to the active config and append the result as a new version.

    `edit` returns the new config and, for a rollback, the tag it came from. No change
    (adding a symbol already listed) appends nothing and answers changed=false.
    `expect_version`: refuse (409 CONFIG_STALE) unless that version is the active one.
    `on_saved(session, tag)` runs in the same transaction once the version is appended."""
    if console.runtime.sessions is None:
        raise ConsoleError(503, "DB_UNAVAILABLE", "the database is not connected")
    async with console.config_lock, transaction(console.runtime.sessions) as session:
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CONFIG_LOCK_KEY})
        active = await active_config(session)
        if expect_version is not None and active.version_tag != expect_version:
            raise ConsoleError(
                409, "CONFIG_STALE", f"based on {expect_version}, but {active.version_tag} is the active config"
            )
        history: list[ConfigVersion] = []
        if needs_history:
            history = list((await session.scalars(select(ConfigVersion).order_by(ConfigVersion.id))).all())
        try:
            updated, rolled_back_from = edit(active.config, history)
        except config_edit.ConfigRejected as exc:
            raise ConsoleError(
                422, "CONFIG_OUT_OF_BOUNDS", str(exc), details=[{"field": exc.field, "problem": str(exc)}]
            ) from None
        before = active.config.model_dump(mode="json", by_alias=True)
        after = updated.model_dump(mode="json", by_alias=True)
        changes = config_diff(before, after)
        if not changes:
            return {
                "success": True,
                "changed": False,
                "version_tag": active.version_tag,
                "diff": [],
                **config_body(active.version_tag, active.config, active.created_ms, active.operator_id),
            }
        raised = config_edit.raised_limits(before, after)
        if raised and not who.role.at_least(role_for_live(console.live, raises_risk=True)):
            raise ConsoleError(403, "ADMIN_REQUIRED", "in LIVE only an admin may raise limits: " + ", ".join(raised))
        summary = summary_prefix + config_edit.summary(changes)
        if rolled_back_from is not None:
            summary = f"rollback to {rolled_back_from}: {summary}"
        row = await save_config(
            session, updated, operator_id=who.username, comment=summary, rolled_back_from=rolled_back_from
        )
        session.add(
            OperatorAction(
                ts_ms=now_ms(),
                operator_id=who.username,
                action=action,
                request=request,
                result={"version_tag": row.version_tag, "diff": changes, "rolled_back_from": rolled_back_from},
                success=True,
            )
        )
        if on_saved is not None:
            await on_saved(session, row.version_tag)
    metrics.OPERATOR_ACTIONS.labels(action, "ok").inc()
    emit_audited(
        console,
        EventType.CONFIG_CHANGE,
        who,
        payload=payload_of(ConfigChange(version_tag=row.version_tag, rolled_back_from=rolled_back_from)),
    )
    receivers = 0
    try:
        receivers = await console.control(ControlCommand.CONFIG_CHANGED, who.username, reason=row.version_tag)
    except Exception as exc:  # the version is committed; services also re-read it on restart
        log.error("CONFIG_CHANGED for %s not broadcast: %s", row.version_tag, exc)
    return {
        "success": True,
        "changed": True,
        "version_tag": row.version_tag,
        "change_summary": summary,
        "diff": changes,
        "rolled_back_from": rolled_back_from,
        "reload_receivers": receivers,
        **config_body(row.version_tag, updated, row.created_ms, row.operator_id),
    }


def rollback_edit(requested: str) -> Callable[[TradingConfig, list[ConfigVersion]], tuple[TradingConfig, str | None]]:
    def edit(_active: TradingConfig, history: list[ConfigVersion]) -> tuple[TradingConfig, str | None]:
        refs = [config_edit.VersionRef(v.version_tag, v.created_ms) for v in history]
        target = config_edit.rollback_target(requested, refs)
        if target.version_tag == DEFAULT_TAG:
            return TradingConfig(), DEFAULT_TAG
        row = next(v for v in history if v.version_tag == target.version_tag)
        return TradingConfig.model_validate(row.config), row.version_tag

    return edit
