# GOVERNANCE PHASE 1 — LOCKED
# Changes need explicit approval and a security review, then `titan governance lock`.
"""Execution's engine: from an intent to an order on the exchange, and from fills to positions.

The rules it keeps (ARCHITECTURE.md, "Order intents"):
- validate again before acting; record every refusal with its reason code;
- an entry goes out only within the price band around its reference (core/price_band.py);
- commit SENT_UNKNOWN, with its audit row, before the network call: no audit row, no order;
- send with orderLinkId = client_order_id, an entry always with its stopLoss (on a spot
  venue, which has no stop orders, the stop is Titan's own: runtime/titan_stops.py);
- never resend a SENT_UNKNOWN intent: resolve it by asking for its orderLinkId, and
  declare NOT_FOUND only after repeated not-found answers;
- fills are applied once per exec_id, whichever of the WebSocket or REST reports them first.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal

from pydantic import BaseModel
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from titan_common.clock import now_ms
from titan_common.db.engine import DB_ERRORS, transaction
from titan_common.db.models import OrderIntentRow
from titan_common.events import EventType, OrderFilled, PositionUpdate, TradeClosed
from titan_common.exchanges import (
    DuplicateClientOrderId,
    ExchangeAdapter,
    ExchangeError,
    ExchangeOrder,
    ExchangePosition,
    ExecType,
    Execution,
    InstrumentFilters,
    NotModified,
    NotSent,
    OrderRejected,
    PlaceOrder,
    TimestampRejected,
)
from titan_common.flags import read_master_arm
from titan_common.logging import KeyEvent, key_event
from titan_common.messages import Correlation, Event, IntentKind, IntentState, OrderIntent, Severity, Side, exit_intent
from titan_common.reasons import ReasonCode
from titan_common.system_state import Mode
from titan_execution.core.exchange_health import ChurnCounter
from titan_execution.core.filters import FitRefused, FittedOrder, fit_order, is_dust
from titan_execution.core.intent_states import IllegalTransition, path_to_exchange_status
from titan_execution.core.positions import ClosedTrade, Fill, Position, ShadowBook, adds_risk
from titan_execution.core.price_band import BandRefusal, price_band_refusal
from titan_execution.core.reconcile import base_asset, titan_holdings
from titan_execution.core.validation import ExecutionContext, refusal_reasons
from titan_execution.runtime import metrics, store

log = logging.getLogger(__name__)


def opens_risk(intent: OrderIntent) -> bool:
    """An entry: it needs the decided leverage on the venue before it is sent."""
    return intent.kind is IntentKind.ENTRY and not intent.reduce_only


# executions of the account's own doing: one without a Titan orderLinkId is foreign
ACCOUNT_EXEC_TYPES = frozenset({ExecType.TRADE, ExecType.BLOCK_TRADE, ExecType.MOVE_POSITION, ExecType.OTHER})
S = IntentState
FILL_LOOKBACK_MAX_MS = 7 * 24 * 3600 * 1000  # the furthest back Bybit's execution list reaches


@dataclass
class EngineConfig:
    exchange: str  # the account: its rows and events carry this name
    run_id: str
    not_found_after: int = 3
    not_found_min_age_ms: int = 5000
    churn_limit_10s: int = 10
    churn_limit_60s: int = 30
    price_band_share: Decimal = Decimal("0.25")
    # a spot venue (MEXC): long-only inventory built from Titan's own fills alone (coins the
    # account holds otherwise are not Titan's), and no stop orders on the venue: execution
    # watches the price and exits through an intent (runtime/titan_stops.py)
    spot: bool = False
    venue: str = "bybit"  # the venue the account is on (the registry's name), as intents name it
    # the leverage Titan set on a symbol is set again only when an entry decides another, or
    # after this long (someone may have changed it on the venue meanwhile)
    leverage_recheck_ms: int = 60_000


@dataclass
class Outcome:
    """What happened to one intent; returned for tests, metrics and logs."""

    state: IntentState
    reasons: list[ReasonCode] = field(default_factory=list)
    detail: str = ""


class ExecutionEngine:
    def __init__(
        self,
        *,
        config: EngineConfig,
        sessions: async_sessionmaker[AsyncSession],
        adapter: ExchangeAdapter,
        mode: Callable[[], Mode] = lambda: Mode.NORMAL,
        on_reason: Callable[[ReasonCode, bool], None] = lambda _reason, _active: None,
        on_event: Callable[[EventType, BaseModel], None] = lambda _type, _payload: None,
        audit_now: Callable[[Event], Awaitable[None]] | None = None,
    ) -> None:
        self.on_reason = on_reason
        # facts for titan:events (the runtime audits the state changes, broadcasts the rest)
        self.on_event = on_event
        self.config = config
        self.sessions = sessions
        self.adapter = adapter
        self.current_mode = mode
        self.filters: dict[str, InstrumentFilters] = {}
        self.quarantined: set[str] = set()
        self.book = ShadowBook()
        self.last_prices: dict[str, Decimal] = {}
        # what Titan last set each symbol's leverage to on the venue, and when
        self.leverage_on_venue: dict[str, tuple[int, int]] = {}
        # symbols where a fill arrived that Titan did not send (a human on the exchange)
        self.foreign_fills: set[str] = set()
        self.venue_closes: set[str] = set()
        # intents whose send is on the wire: not looked up (an answer is coming), never NOT_FOUND
        self.in_flight: set[str] = set()
        # the audit mirror's write-ahead, for exits while Postgres is down (None: exits wait too)
        self.audit_now = audit_now
        # rows that could not be written while Postgres was down, in order (flush_deferred)
        self.deferred: list[Callable[[AsyncSession], Awaitable[object]]] = []
        # a disarm (by a flatten) not yet confirmed by Postgres: entries are refused meanwhile
        self.disarm_latched = False
        self.churn = ChurnCounter(limit_10s=config.churn_limit_10s, limit_60s=config.churn_limit_60s)
        self._fills_lock = asyncio.Lock()
        # +1 for every fill applied to the book, whatever its source (stream or REST): a
        # reconcile retakes its venue snapshot when this moved while it was taken
        self.fill_seq = 0

    @property
    def fills_lock(self) -> asyncio.Lock:
        """Held while a fill is applied; a reconcile holds it to diff and correct the book."""
        return self._fills_lock

    # --- start-up ---

    async def load(self) -> None:
        """Instruments from the exchange, positions from our own record."""
        await self.refresh_instruments()
        async with self.sessions() as session:
            for position in await store.load_positions(session, self.config.exchange):
                self.book.positions[position.symbol] = position

    async def refresh_instruments(self) -> list[str]:
        """Reload filters; returns symbols whose trading status changed."""
        changed = []
        for item in await self.adapter.instruments():
            before = self.filters.get(item.symbol)
            if before is not None and before.trading != item.trading:
                changed.append(item.symbol)
            self.filters[item.symbol] = item
            if item.trading:
                self.quarantined.discard(item.symbol)
            else:
                self.quarantined.add(item.symbol)
        return changed

    # --- intents ---

    async def handle_intent(self, intent: OrderIntent, decision_id: str | None = None) -> Outcome:
        started = time.perf_counter()
        outcome = await self._handle_intent(intent, decision_id)
        metrics.ORDERS.labels(outcome.state.value).inc()
        if outcome.state is S.CONFIRMED:
            metrics.ORDER_LATENCY_MS.observe((time.perf_counter() - started) * 1000)
        return outcome

    async def _handle_intent(self, intent: OrderIntent, decision_id: str | None) -> Outcome:
        if self._answers_at_hand(intent):
            return await self._handle_at_once(intent, decision_id)
        try:
            async with transaction(self.sessions) as session:
                state = await store.ensure_intent(session, intent, decision_id, exchange=self.config.exchange)
                # a disarm not yet in Postgres (a flatten while it was down) still disarms
                armed = await read_master_arm(session) and not self.disarm_latched
        except DB_ERRORS as exc:
            return await self._without_db(intent, exc)
        if state is not S.CREATED:
            # a redelivery: whatever happened before stands, and nothing is sent twice
            return Outcome(state, [ReasonCode.DUPLICATE_INTENT], "already handled")
        reasons, fitted = await self._check_and_fit(intent, armed)
        band = None
        if not reasons and fitted is not None and opens_risk(intent):
            # the band before the leverage: an entry refused for price touches nothing on the venue
            band = await self._check_price_band(intent)
            reasons = [band.reason] if band is not None else await self._apply_leverage(intent)
        if reasons or fitted is None:
            await self._reject(intent, reasons, band)
            return Outcome(S.REJECTED, reasons, "" if band is None else band.detail)

        # write-ahead: the intent and its audit row are committed before any network call
        async with transaction(self.sessions) as session:
            if not await self._write_ahead(session, intent, fitted):
                return Outcome(S.SENT_UNKNOWN, [ReasonCode.DUPLICATE_INTENT], "raced")
        return await self._send(intent, fitted)

    def _answers_at_hand(self, intent: OrderIntent) -> bool:
        """Nothing the venue must do before the write-ahead: a reference price to fit the order
        to and, for an entry, the decided leverage already set on the venue. (An entry's price
        band still asks the venue's price now: a read, before the transaction.)"""
        reference = intent.price or intent.reference_price or self.last_prices.get(intent.symbol)
        if reference is None and not intent.reduce_only:
            return False
        return not opens_risk(intent) or self._leverage_known(intent)

    async def _handle_at_once(self, intent: OrderIntent, decision_id: str | None) -> Outcome:
        """The intent row, the checks and the write-ahead (or the refusal) in one transaction:
        one commit before the send. An entry's band is checked against the venue's price asked
        just before (a read that changes nothing on the venue, whatever the checks decide)."""
        current = await self._venue_price(intent.symbol) if opens_risk(intent) else None
        band = None
        try:
            async with transaction(self.sessions) as session:
                state = await store.ensure_intent(session, intent, decision_id, exchange=self.config.exchange)
                if state is not S.CREATED:
                    # a redelivery: whatever happened before stands, and nothing is sent twice
                    return Outcome(state, [ReasonCode.DUPLICATE_INTENT], "already handled")
                # a disarm not yet in Postgres (a flatten while it was down) still disarms
                armed = await read_master_arm(session) and not self.disarm_latched
                reasons, fitted = await self._check_and_fit(intent, armed)  # asks nothing: the reference is known
                if not reasons and fitted is not None and opens_risk(intent):
                    band = self._band_refusal(intent, current)
                    if band is not None:
                        reasons = [band.reason]
                    else:
                        self.book.set_leverage(intent.symbol, intent.leverage)  # the venue has it already
                if reasons or fitted is None:
                    await self._write_refusal(session, intent, reasons, band)
                elif not await self._write_ahead(session, intent, fitted):
                    return Outcome(S.SENT_UNKNOWN, [ReasonCode.DUPLICATE_INTENT], "raced")
        except DB_ERRORS as exc:
            return await self._without_db(intent, exc)
        if reasons or fitted is None:
            log.info("intent %s %s refused: %s", intent.intent_id, intent.symbol, ",".join(reasons))
            return Outcome(S.REJECTED, reasons, "" if band is None else band.detail)
        return await self._send(intent, fitted)

    async def _write_ahead(self, session: AsyncSession, intent: OrderIntent, fitted: FittedOrder) -> bool:
        """SENT_UNKNOWN and the ORDER_SEND audit row, in the caller's transaction (committed
        before the send). False when another path moved the intent first."""
        moved = await store.move_intent(
            session,
            intent.intent_id,
            S.CREATED,
            S.SENT_UNKNOWN,
            # the account that sends it owns it from here (the brain may have written the row)
            extra={
                "qty": fitted.qty,
                "stop_loss": fitted.stop_loss,
                "take_profit": fitted.take_profit,
                "exchange": self.config.exchange,
            },
        )
        if moved:
            session.add(store.audit_row(self._event(intent, "ORDER_SEND", stage=S.SENT_UNKNOWN.value)))
        return moved

    async def _check_and_fit(self, intent: OrderIntent, armed: bool) -> tuple[list[ReasonCode], FittedOrder | None]:
        """Execution's own refusals, then the order fitted to the venue's filters."""
        context = ExecutionContext(
            now_ms=now_ms(),
            armed=armed,
            mode=self.current_mode(),
            tradable_symbols=frozenset(s for s, f in self.filters.items() if f.trading),
            quarantined_symbols=frozenset(self.quarantined),
            open_position_symbols=frozenset(p.symbol for p in self.book.open_positions()),
            churning_symbols=frozenset(self.churn.symbols_over_limit(now_ms())),
        )
        reasons = refusal_reasons(intent, context)
        fitted = None
        if not reasons:
            filters = self.filters[intent.symbol]
            reference = intent.price or intent.reference_price or self.last_prices.get(intent.symbol)
            if reference is None and intent.reduce_only:
                reference = Decimal(0)  # a close is exempt from the minimum notional: no price needed, none asked
            elif reference is None:
                # a refused lookup raises here, before the write-ahead: the intent stays CREATED and is retried
                reference = await self.adapter.last_price(intent.symbol)
            fit = fit_order(
                filters,
                qty=intent.qty,
                reference_price=reference,
                price=intent.price,
                stop_loss=intent.stop_loss,
                take_profit=intent.take_profit,
                is_market=intent.price is None,
                reduce_only=intent.reduce_only,
            )
            if isinstance(fit, FitRefused):
                reasons = [fit.reason]
            else:
                fitted = fit
        return reasons, fitted

    async def _without_db(self, intent: OrderIntent, error: Exception) -> Outcome:
        """Postgres refused the intent's first transaction: an exit goes out on the audit
        mirror; an entry waits for Postgres (no write-ahead row, no order): the error stands."""
        if intent.kind is IntentKind.EXIT and self.audit_now is not None:
            return await self._exit_without_db(intent, error)
        raise error

    async def _exit_without_db(self, intent: OrderIntent, error: Exception) -> Outcome:
        """Postgres is down and an exit cannot wait for it. Its write-ahead is its ORDER_SEND
        audit event, in the JSONL mirror (fsync'd) before the send; its intent row is written
        when Postgres returns (as SENT_UNKNOWN, then resolved by query like any other)."""
        log.critical("Postgres unreachable (%s): exit %s goes out on the audit mirror", error, intent.client_order_id)
        reasons, fitted = await self._check_and_fit(intent, armed=False)
        if reasons or fitted is None:
            return Outcome(S.REJECTED, reasons, "refused while Postgres is down")
        assert self.audit_now is not None
        try:
            await self.audit_now(self._event(intent, "ORDER_SEND", stage=S.SENT_UNKNOWN.value))
        except Exception as exc:  # the mirror cannot take it either: closing still beats not closing
            log.critical("exit %s proceeds without a write-ahead: %s", intent.client_order_id, exc)
        exchange = self.config.exchange
        self.deferred.append(lambda session: store.write_late_intent(session, intent, fitted.qty, exchange))
        outcome = await self._send(intent, fitted, recorded=False)
        if outcome.state is S.SENT_UNKNOWN:
            found = await self._lookup(intent)
            if found is not None:
                outcome = Outcome(S.CONFIRMED, [], found.order_id)
        return outcome

    async def _lookup(self, intent: OrderIntent) -> ExchangeOrder | None:
        try:
            return await self.adapter.order_by_client_id(intent.symbol, intent.client_order_id)
        except ExchangeError:
            return None

    async def flush_deferred(self) -> int:
        """Write what could not be written while Postgres was down (in order); returns how many
        went in. Stops at the first failure and keeps the rest for the next call."""
        written = 0
        while self.deferred:
            try:
                async with transaction(self.sessions) as session:
                    await self.deferred[0](session)
            except DB_ERRORS:
                break
            self.deferred.pop(0)
            written += 1
        return written

    async def _send(self, intent: OrderIntent, fitted: FittedOrder, *, recorded: bool = True) -> Outcome:
        """Place the fitted order; the answer moves the intent (`recorded`: its row exists)."""
        key_event(
            log,
            KeyEvent.BUY if intent.side is Side.BUY else KeyEvent.SELL,
            f"{intent.symbol} qty={fitted.qty} sl={fitted.stop_loss} tp={fitted.take_profit} "
            f"link={intent.client_order_id} reduce_only={intent.reduce_only}",
        )
        order = PlaceOrder(
            symbol=intent.symbol,
            side=intent.side,
            qty=fitted.qty,
            client_order_id=intent.client_order_id,
            order_type=intent.order_type,
            price=fitted.price,
            reduce_only=intent.reduce_only,
            # on spot the stop stays on the intent's row: Titan itself guards it
            stop_loss=None if intent.reduce_only or self.config.spot else fitted.stop_loss,
            take_profit=None if intent.reduce_only or self.config.spot else fitted.take_profit,
        )
        self.in_flight.add(intent.intent_id)
        try:
            ack = await self.adapter.place_order(order)
        except DuplicateClientOrderId:
            # this orderLinkId is already on the venue: find it instead of resending
            if not recorded:
                found = await self._lookup(intent)
                return Outcome(S.SENT_UNKNOWN if found is None else S.CONFIRMED, [], "already on the venue")
            return await self.resolve(intent.intent_id, intent.symbol, intent.client_order_id, force=True)
        except OrderRejected as exc:
            if not recorded:
                log.error("exit %s rejected by the exchange (%s): %s", intent.client_order_id, exc.code, exc)
                return Outcome(S.FAILED_TERMINAL, [], str(exc))
            async with transaction(self.sessions) as session:
                await store.move_intent(session, intent.intent_id, S.SENT_UNKNOWN, S.FAILED_TERMINAL)
                session.add(
                    store.audit_row(
                        self._event(
                            intent,
                            "ORDER_REJECTED",
                            severity=Severity.WARNING,
                            payload={"error": str(exc), "code": exc.code},
                        )
                    )
                )
            key_event(log, KeyEvent.ABORT, f"{intent.symbol} rejected by exchange ({exc.code}): {exc}")
            return Outcome(S.FAILED_TERMINAL, [], str(exc))
        except NotSent as exc:
            # Titan's own limiter held it back: nothing reached the venue, so nothing to look up
            if recorded:
                async with transaction(self.sessions) as session:
                    await store.move_intent(session, intent.intent_id, S.SENT_UNKNOWN, S.FAILED_TERMINAL)
                    session.add(
                        store.audit_row(
                            self._event(
                                intent, "ORDER_NOT_SENT", severity=Severity.WARNING,
                                reason=ReasonCode.RATE_LIMIT, payload={"error": str(exc)},
                            )
                        )
                    )  # fmt: skip
            log.warning("%s not sent (rate limit until %s): %s", intent.client_order_id, exc.reset_ms, exc)
            return Outcome(S.FAILED_TERMINAL, [ReasonCode.RATE_LIMIT], str(exc))
        except ExchangeError as exc:
            if isinstance(exc, TimestampRejected):
                # the venue refused our timestamp: our clock is not trusted now
                self.on_reason(ReasonCode.TIMESTAMP_MISMATCH, True)
            log.warning("send of %s has an unknown outcome (%s); resolving by query", intent.client_order_id, exc)
            return Outcome(S.SENT_UNKNOWN, [], str(exc))
        finally:
            self.in_flight.discard(intent.intent_id)
        if recorded:
            async with transaction(self.sessions) as session:
                await store.move_intent(session, intent.intent_id, S.SENT_UNKNOWN, S.CONFIRMED)
        return Outcome(S.CONFIRMED, [], ack.order_id)

    async def exit_position(
        self,
        symbol: str,
        position_side: Side,
        qty: Decimal,
        *,
        origin: str,
        operator_id: str | None = None,
        reference_price: Decimal | None = None,
    ) -> Outcome:
        """Close `qty` of a position through the one door: an EXIT intent with its write-ahead
        row, audit row and Titan orderLinkId. A lost answer is looked up once at once (the
        resolve loop goes on from there); it is never sent again."""
        intent = exit_intent(
            symbol, position_side, qty, correlation=Correlation(run_id=self.config.run_id), origin=origin,
            exchange=self.config.venue, operator_id=operator_id, reference_price=reference_price, ts_ms=now_ms(),
        )  # fmt: skip
        link = intent.client_order_id
        key_event(log, KeyEvent.ABORT, f"closing {symbol} {position_side} {qty} ({origin}) link={link}")
        outcome = await self.handle_intent(intent)
        if outcome.state is S.SENT_UNKNOWN:
            outcome = await self.resolve(intent.intent_id, symbol, intent.client_order_id)
        return outcome

    async def venue_positions(self) -> list[ExchangePosition]:
        """The venue's positions (REST is the truth). On a spot venue, which holds coins and
        no positions, the part of the account's coins that is Titan's inventory."""
        if not self.config.spot:
            return await self.adapter.positions()
        return titan_holdings(self.book.open_positions(), await self.adapter.balances())

    async def cancel_all(self, *, origin: str) -> int:
        """Cancel every open order on the venue; returns how many. The caller audits the
        request and its result (an operator action, or the kill switch)."""
        cancelled = await self.adapter.cancel_all()
        key_event(log, KeyEvent.ABORT, f"cancelled {cancelled} open order(s) ({origin})")
        return cancelled

    async def set_stop(self, symbol: str, stop_loss: Decimal) -> None:
        """Set (or move) the position's stop on the venue; NotModified when it is already there."""
        self.record_churn(symbol)  # setting a stop replaces one
        await self.adapter.set_trading_stop(symbol, stop_loss=stop_loss)

    async def _venue_price(self, symbol: str) -> Decimal | None:
        """The venue's price now (REST: the truth, and fresh; the fills' last prices may be
        old, and a price kept from before a fast move would judge the band by the wrong side
        of it). None when it cannot be read: the band then refuses the entry (fail-closed)."""
        try:
            return await self.adapter.last_price(symbol)
        except ExchangeError as exc:
            log.warning("the venue's price of %s is unknown: %s", symbol, exc)
            return None

    async def _check_price_band(self, intent: OrderIntent) -> BandRefusal | None:
        """An entry's price band against the venue's price now."""
        return self._band_refusal(intent, await self._venue_price(intent.symbol))

    def _band_refusal(self, intent: OrderIntent, current: Decimal | None) -> BandRefusal | None:
        refusal = price_band_refusal(intent, current, self.config.price_band_share)
        if refusal is not None:
            log.warning("entry %s %s refused (%s): %s", intent.intent_id, intent.symbol, refusal.reason, refusal.detail)
        return refusal

    def _leverage_known(self, intent: OrderIntent) -> bool:
        """Titan set this very leverage on the symbol within `leverage_recheck_ms`."""
        known = self.leverage_on_venue.get(intent.symbol)
        return (
            known is not None and known[0] == intent.leverage and now_ms() - known[1] <= self.config.leverage_recheck_ms
        )

    async def _apply_leverage(self, intent: OrderIntent) -> list[ReasonCode]:
        """Set the symbol's leverage to the decided one before an entry goes out; the sizing
        and the stop assume it. Refusals of any kind refuse the entry (nothing is sent)."""
        if not self._leverage_known(intent):
            try:
                await self.adapter.set_leverage(intent.symbol, intent.leverage)
            except NotModified:
                pass  # already at the decided leverage
            except ExchangeError as exc:
                self.leverage_on_venue.pop(intent.symbol, None)
                log.warning("leverage %sx on %s not set (%s): entry refused", intent.leverage, intent.symbol, exc)
                return [ReasonCode.LEVERAGE_NOT_SET]
            self.leverage_on_venue[intent.symbol] = (intent.leverage, now_ms())
        self.book.set_leverage(intent.symbol, intent.leverage)
        return []

    async def _reject(self, intent: OrderIntent, reasons: list[ReasonCode], band: BandRefusal | None) -> None:
        async with transaction(self.sessions) as session:
            await self._write_refusal(session, intent, reasons, band)
        log.info("intent %s %s refused: %s", intent.intent_id, intent.symbol, ",".join(reasons))

    async def _write_refusal(
        self, session: AsyncSession, intent: OrderIntent, reasons: list[ReasonCode], band: BandRefusal | None
    ) -> None:
        """REJECTED with its first reason, and the INTENT_REJECTED audit row (with the band's
        figures when the band refused it), in the caller's transaction."""
        await store.move_intent(session, intent.intent_id, S.CREATED, S.REJECTED, reason=reasons[0])
        payload: dict[str, object] = {"reasons": [r.value for r in reasons]}
        if band is not None:
            payload["price_band"] = band.figures()
        event = self._event(intent, "INTENT_REJECTED", severity=Severity.WARNING, reason=reasons[0], payload=payload)
        session.add(store.audit_row(event))

    # --- resolving what the exchange did ---

    async def resolve_unknown(self) -> int:
        """Resolve every SENT_UNKNOWN (and watch NOT_FOUND) by orderLinkId. Returns how many moved."""
        async with self.sessions() as session:
            rows = await store.intents_in(session, self.config.exchange, S.SENT_UNKNOWN)
        moved = 0
        for row in rows:
            if row.intent_id in self.in_flight:
                continue
            outcome = await self.resolve(row.intent_id, row.symbol, row.client_order_id, row=row)
            moved += outcome.state is not S.SENT_UNKNOWN
        return moved

    async def refresh_open_intents(self, min_age_ms: int = 0) -> int:
        """Ask the exchange about every CONFIRMED or PARTIALLY_FILLED intent unchanged for
        `min_age_ms` (their reports may have been lost with the stream). Returns how many moved."""
        async with self.sessions() as session:
            rows = await store.intents_in(session, self.config.exchange, S.CONFIRMED, S.PARTIALLY_FILLED)
        rows = [row for row in rows if now_ms() - row.updated_ms >= min_age_ms]
        moved = 0
        for row in rows:
            try:
                order = await self.adapter.order_by_client_id(row.symbol, row.client_order_id)
            except ExchangeError:
                continue
            if order is not None and await self.apply_order_update(order, intent_id=row.intent_id) != row.state:
                moved += 1
        return moved

    async def resolve(
        self,
        intent_id: str,
        symbol: str,
        client_order_id: str,
        *,
        row: OrderIntentRow | None = None,
        force: bool = False,
    ) -> Outcome:
        try:
            order = await self.adapter.order_by_client_id(symbol, client_order_id)
        except ExchangeError as exc:
            return Outcome(S.SENT_UNKNOWN, [], f"lookup failed: {exc}")
        if order is not None:
            state = await self.apply_order_update(order, intent_id=intent_id)
            return Outcome(state or S.SENT_UNKNOWN)
        if force:
            return Outcome(S.SENT_UNKNOWN, [], "duplicate id but not found yet")
        async with transaction(self.sessions) as session:
            current = row or await session.get(OrderIntentRow, intent_id)
            if current is None:
                return Outcome(S.SENT_UNKNOWN, [], "unknown intent")
            attempts = current.lookup_attempts + 1
            old_enough = now_ms() - current.updated_ms >= self.config.not_found_min_age_ms
            if attempts >= self.config.not_found_after and old_enough:
                await store.move_intent(
                    session, intent_id, S.SENT_UNKNOWN, S.NOT_FOUND, extra={"lookup_attempts": attempts}
                )
                session.add(store.audit_row(self._bare_event("INTENT_NOT_FOUND", intent_id, {"attempts": attempts})))
                return Outcome(S.NOT_FOUND, [], f"not found after {attempts} lookups")
            await session.execute(
                update(OrderIntentRow).where(OrderIntentRow.intent_id == intent_id).values(lookup_attempts=attempts)
            )
        return Outcome(S.SENT_UNKNOWN, [], f"not found ({attempts})")

    async def apply_order_update(self, order: ExchangeOrder, *, intent_id: str | None = None) -> IntentState | None:
        """Record an order report and move its intent along the legal path to it."""
        async with transaction(self.sessions) as session:
            # FOR UPDATE: the path is computed from the intent's current state, after any racing
            # transition (the HTTP ack vs. the stream's report) has committed, never from a stale read
            query = select(OrderIntentRow).with_for_update()
            row = None
            if intent_id is not None:
                row = await session.scalar(query.where(OrderIntentRow.intent_id == intent_id))
            elif order.client_order_id:
                row = await session.scalar(query.where(OrderIntentRow.client_order_id == order.client_order_id))
            fresh = await store.upsert_order(session, self.config.exchange, order, row.intent_id if row else None)
            if row is None:
                return None
            state = IntentState(row.state)
            if not fresh:
                log.info("stale report of %s (%s, updated %s) ignored", order.client_order_id, order.status,
                         order.updated_ms)  # fmt: skip
                return state
            try:
                path = path_to_exchange_status(state, order.status)
            except (IllegalTransition, ValueError) as exc:
                # a report that contradicts what is on record (late, or a status Titan does not
                # know) changes nothing; the next query or reconcile has the truth
                log.warning("order report of %s ignored: %s", order.client_order_id, exc)
                return state
            for step in path:
                if not await store.move_intent(session, row.intent_id, state, step):
                    break
                state = step
                if step is S.CANCELLED:
                    self.record_churn(order.symbol)
            return state

    def record_churn(self, symbol: str) -> None:
        """One cancel or replace (of an order or a stop) on `symbol`; over the limit, entries
        there are refused and the service degrades with RISK_CHURN_LIMIT_HIT until it calms."""
        metrics.CANCEL_REPLACE.labels(symbol).inc()
        if self.churn.record(symbol, now_ms()):
            log.warning("churn limit hit on %s", symbol)
            self.on_reason(ReasonCode.RISK_CHURN_LIMIT_HIT, True)

    # --- fills ---

    async def on_execution(self, execution: Execution, source: str) -> bool:
        """Apply a fill once (by exec_id). True when it was new."""
        async with self._fills_lock:
            async with transaction(self.sessions) as session:
                if not await store.record_fill(session, self.config.exchange, execution, source):
                    return False
                if self.config.spot and not is_titan_order(execution.client_order_id):
                    # on spot, Titan's position is its own inventory: another order's fill is on
                    # record, but the coins it moved are not Titan's
                    log.warning("%s: fill %s of an order Titan did not send: recorded, not Titan's",
                                execution.symbol, execution.exec_id)  # fmt: skip
                    return False
                fill = Fill(
                    exec_id=execution.exec_id,
                    symbol=execution.symbol,
                    side=execution.side,
                    qty=self._inventory_qty(execution),
                    price=execution.price,
                    fee=execution.fee,
                    ts_ms=execution.ts_ms,
                    exec_type=execution.exec_type,
                )
                before = self.book.position(execution.symbol)
                applied, trade = self.book.apply(fill)
                self.fill_seq += 1
                if trade is None and self._left_dust(fill):
                    trade = self.book.write_off(execution.symbol, execution.ts_ms)
                position = self.book.position(execution.symbol)
                # someone else's new risk: an account fill Titan did not send that opened or grew it
                foreign = (
                    execution.exec_type in ACCOUNT_EXEC_TYPES
                    and not is_titan_order(execution.client_order_id)
                    and adds_risk(before, fill)
                )
                if foreign and not position.is_flat:
                    self.foreign_fills.add(execution.symbol)
                await store.save_position(
                    session, self.config.exchange, position, mark_price=execution.price, adopted=foreign
                )
                if trade is not None:
                    await store.insert_trade(session, self.config.exchange, trade, None)
            if execution.exec_type is ExecType.TRADE:
                self.last_prices[execution.symbol] = execution.price
            if applied and execution.exec_type.by_venue:
                self.venue_closes.add(execution.symbol)
            # after the commit: what is announced is on record
            self._announce_fill(execution, position, trade)
            return applied

    def _left_dust(self, fill: Fill) -> bool:
        """A spot sale that left less of the coin than the venue will take in an order: that
        remainder can never be sold, so it is written off Titan's inventory (logged)."""
        remainder = self.book.position(fill.symbol)
        filters = self.filters.get(fill.symbol)
        if not self.config.spot or fill.side is not Side.SELL or remainder.is_flat or filters is None:
            return False
        if not is_dust(remainder.size, filters):
            return False
        log.warning("%s: %s left after the sale is below the venue's minimum: written off Titan's inventory",
                    fill.symbol, remainder.size)  # fmt: skip
        return True

    def _inventory_qty(self, execution: Execution) -> Decimal:
        """What a fill moves the position by. A spot venue may take a buy's fee from the coin
        bought (its `fee` is then that coin's worth in the quote): Titan holds that much less."""
        fee_in_coin = (
            self.config.spot
            and execution.side is Side.BUY
            and execution.fee_qty is not None
            and execution.fee_asset == base_asset(execution.symbol)
        )
        return execution.qty - execution.fee_qty if fee_in_coin and execution.fee_qty else execution.qty

    def _announce_fill(self, execution: Execution, position: Position, trade: ClosedTrade | None) -> None:
        exchange = self.config.exchange
        if execution.exec_type is ExecType.TRADE:
            self.on_event(
                EventType.ORDER_FILLED,
                OrderFilled(
                    exchange=exchange, symbol=execution.symbol, side=execution.side, qty=execution.qty,
                    price=execution.price, fee=execution.fee, exec_id=execution.exec_id,
                    client_order_id=execution.client_order_id, ts_ms=execution.ts_ms,
                ),
            )  # fmt: skip
        self.on_event(EventType.POSITION_UPDATE, self.position_update(position, execution.price))
        if trade is not None:
            self.on_event(
                EventType.TRADE_CLOSED,
                TradeClosed(
                    exchange=exchange, symbol=trade.symbol, side=trade.side, qty=trade.qty,
                    entry_price=trade.entry_price, exit_price=trade.exit_price, pnl=trade.net_pnl, fees=trade.fees,
                    r_multiple=trade.r_multiple, opened_ms=trade.opened_ms, closed_ms=trade.closed_ms,
                    closed_by=trade.closed_by,
                ),
            )  # fmt: skip

    def position_update(self, position: Position, mark_price: Decimal | None = None) -> PositionUpdate:
        return PositionUpdate(
            exchange=self.config.exchange,
            symbol=position.symbol,
            side=position.side,
            size=position.size,
            avg_entry=position.avg_entry,
            mark_price=mark_price,
            stop_loss=position.stop_loss,
            unrealised_pnl=None if mark_price is None or position.is_flat else position.unrealised_pnl(mark_price),
            realised_pnl=position.realised_pnl,
            fees=position.fees,
        )

    async def mark_to_market(self, marks: dict[str, Decimal]) -> int:
        """Record the exchange's mark for each open shadow position and announce its live
        PnL. Returns how many positions were marked."""
        marked = 0
        for symbol in [p.symbol for p in self.book.open_positions()]:
            mark = marks.get(symbol)
            if mark is None:
                continue
            # under the fills' lock, the position as it is now: a close that filled during an
            # earlier await must never be followed by an announcement of the open position
            # (the brain would hold it open and veto the symbol as DUPLICATE_POSITION)
            async with self._fills_lock:
                position = self.book.position(symbol)
                if position.is_flat:
                    continue
                async with transaction(self.sessions) as session:
                    await store.mark_position(
                        session, self.config.exchange, symbol, mark, position.unrealised_pnl(mark)
                    )
                self.on_event(EventType.POSITION_UPDATE, self.position_update(position, mark))
            marked += 1
        return marked

    def take_venue_closes(self) -> set[str]:
        """Symbols the venue itself liquidated or deleveraged, since last asked; the caller alerts."""
        taken, self.venue_closes = self.venue_closes, set()
        return taken

    def take_foreign_fills(self) -> set[str]:
        """Symbols with fills Titan did not send, since last asked; the caller alerts on them."""
        taken, self.foreign_fills = self.foreign_fills, set()
        return taken

    async def catch_up_fills(self, since_ms: int) -> set[str]:
        """REST is the truth: apply every execution since `since_ms` that no stream delivered.
        Returns the symbols whose position the new ones changed."""
        executions = await self.adapter.executions_since(since_ms)
        async with self.sessions() as session:
            recorded = await store.recorded_exec_ids(session, self.config.exchange, [e.exec_id for e in executions])
        touched = set()
        for execution in (e for e in executions if e.exec_id not in recorded):  # on_execution still dedups
            if await self.on_execution(execution, "REST") and execution.exec_type.changes_position:
                touched.add(execution.symbol)
        return touched

    async def fills_resume_ms(self) -> int:
        """Where a fill catch-up starts after a restart: a minute before the last fill we
        recorded (fills made while we were down), or a minute ago on a fresh record, so an
        account's old history is never replayed as new trades."""
        async with self.sessions() as session:
            latest = await store.latest_fill_ms(session, self.config.exchange)
        now = now_ms()
        return now - 60_000 if latest is None else max(latest - 60_000, now - FILL_LOOKBACK_MAX_MS)

    # --- helpers ---

    def _event(
        self,
        intent: OrderIntent,
        event_type: str,
        *,
        stage: str | None = None,
        severity: Severity = Severity.INFO,
        reason: ReasonCode | None = None,
        payload: dict[str, object] | None = None,
    ) -> Event:
        corr = intent.correlation.model_copy(update={"order_intent_id": intent.intent_id})
        body = {
            "symbol": intent.symbol,
            "side": intent.side.value,
            "qty": str(intent.qty),
            "client_order_id": intent.client_order_id,
            "kind": intent.kind.value,
            **({"origin": intent.origin} if intent.origin else {}),
            **(payload or {}),
        }
        return Event(
            ts_ms=now_ms(),
            service="execution",
            event_type=event_type,
            severity=severity,
            reason_code=reason,
            stage=stage,
            correlation=corr,
            operator_id=intent.operator_id,
            payload=body,
        )

    def _bare_event(self, event_type: str, intent_id: str, payload: dict[str, object]) -> Event:
        return Event(
            ts_ms=now_ms(),
            service="execution",
            event_type=event_type,
            severity=Severity.WARNING,
            correlation=Correlation(run_id=self.config.run_id, order_intent_id=intent_id),
            payload=payload,
        )


def is_titan_order(client_order_id: str | None) -> bool:
    """Titan's orderLinkIds all start with "t-" (client_order_id_for); anything else came from elsewhere."""
    return bool(client_order_id and client_order_id.startswith("t-"))
