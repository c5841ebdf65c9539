"""`titan backtest` and `titan data ...`: what the commands do once their options are read."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from titan_backtest.engine import Backtest, BacktestOptions
from titan_backtest.report import html_report, summarise
from titan_common.clock import utc_day_start_ms
from titan_common.config import DEFAULT_TAG, TradingConfig
from titan_common.exchanges.types import InstrumentFilters
from titan_common.replay import RecordedKline, ReplayTrade, read_recording, write_klines
from titan_scavenger.core.market import BAR_MS

ROOT = Path(__file__).resolve().parents[3]
SAMPLE_DIR = ROOT / "data" / "sample"
INSTRUMENTS_FILE = "instruments.json"
# the sample: the default whitelist's symbols, four days from a fixed start, the simulator's seed
SAMPLE_SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "DOGEUSDT")
SAMPLE_START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
SAMPLE_DAYS = 4
SAMPLE_SEED = 42
# the history a backtest that starts at --from reads first: the scavenger's 200 bars of 15 min
WARM_UP_MS = (BacktestOptions().bars_history + 1) * BAR_MS


class BacktestInputError(ValueError):
    """A backtest asked for something it cannot have; the message says what."""


@dataclass(frozen=True)
class Inputs:
    klines: list[RecordedKline]
    filters: dict[str, InstrumentFilters]
    config: TradingConfig
    config_tag: str
    data: str
    trade_from_ms: int | None = None  # klines before it only warm the market up
    trades: list[ReplayTrade] | None = None  # a recording of trades (klines are then their bars)


def instruments_path(data: Path) -> Path:
    return (data if data.is_dir() else data.parent) / INSTRUMENTS_FILE


def write_instruments(path: Path, filters: dict[str, InstrumentFilters]) -> None:
    body = {
        s: {
            "tick_size": str(f.tick_size), "qty_step": str(f.qty_step), "min_qty": str(f.min_qty),
            "max_qty": str(f.max_qty), "min_notional": str(f.min_notional), "max_leverage": f.max_leverage,
        }
        for s, f in sorted(filters.items())
    }  # fmt: skip
    path.write_text(json.dumps(body, indent=1) + "\n", encoding="utf-8")


def read_instruments(path: Path) -> dict[str, InstrumentFilters]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return {
            symbol: InstrumentFilters(
                symbol=symbol,
                tick_size=Decimal(v["tick_size"]),
                qty_step=Decimal(v["qty_step"]),
                min_qty=Decimal(v["min_qty"]),
                max_qty=Decimal(v["max_qty"]),
                min_notional=Decimal(v["min_notional"]),
                max_leverage=int(v.get("max_leverage", 100)),
            )
            for symbol, v in raw.items()
        }
    except (OSError, ValueError, KeyError, TypeError, ArithmeticError) as exc:
        raise BacktestInputError(f"{path}: not an instruments file ({exc})") from None


def inferred_filters(klines: list[RecordedKline]) -> dict[str, InstrumentFilters]:
    """Without an instruments file: each symbol's tick and step are the finest its data shows."""
    out: dict[str, InstrumentFilters] = {}
    for k in klines:
        price_exp = min(int(p.as_tuple().exponent) for p in (k.open, k.high, k.low, k.close))
        qty_exp = int(k.volume.as_tuple().exponent)
        known = out.get(k.symbol)
        tick = Decimal(1).scaleb(min(price_exp, int(known.tick_size.as_tuple().exponent) if known else 0))
        step = Decimal(1).scaleb(min(qty_exp, int(known.qty_step.as_tuple().exponent) if known else 0))
        out[k.symbol] = InstrumentFilters(k.symbol, tick, step, step, Decimal(10) ** 9, Decimal(5))
    return out


def day_ms(value: str | None, option: str) -> int | None:
    if value is None:
        return None
    try:
        return int(value) if value.isdigit() else utc_day_start_ms(value)
    except ValueError:
        raise BacktestInputError(f"{option} takes a day (YYYY-MM-DD) or UTC milliseconds, not {value!r}") from None


def load_config(spec: str | None, database_url: str | None) -> tuple[TradingConfig, str]:
    """`default`, a JSON file of a trading config, or a saved version's tag (from Postgres)."""
    if spec is None or spec == DEFAULT_TAG:
        return TradingConfig(), DEFAULT_TAG
    path = Path(spec)
    if path.suffix == ".json" or path.exists():
        try:
            return TradingConfig.model_validate_json(path.read_text(encoding="utf-8")), path.name
        except (OSError, ValueError) as exc:
            raise BacktestInputError(f"--config {spec}: not a trading config ({str(exc).splitlines()[0]})") from None
    if not database_url:
        raise BacktestInputError(f"--config {spec}: a version tag is read from Postgres; set DATABASE_URL")
    return asyncio.run(_config_version(database_url, spec)), spec


async def _config_version(database_url: str, tag: str) -> TradingConfig:
    from titan_common.config import config_version
    from titan_common.db.engine import make_engine, make_sessionmaker

    engine = make_engine(database_url, pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session:
            config = await config_version(session, tag)
    finally:
        await engine.dispose()
    if config is None:
        raise BacktestInputError(f"--config {tag}: no config version has that tag")
    return config


def gather_inputs(
    *, sample: bool, data: Path | None, start: str | None, end: str | None, config: str | None,
    database_url: str | None = None,
) -> Inputs:  # fmt: skip
    if sample == (data is not None):
        raise BacktestInputError("give either --sample or --data PATH")
    path = SAMPLE_DIR if sample else data
    assert path is not None
    start_ms, end_ms = day_ms(start, "--from"), day_ms(end, "--to")
    # a scavenger that starts at --from has the venue's history behind it: so does the backtest
    warm_from = None if start_ms is None else start_ms - WARM_UP_MS
    try:
        recording = read_recording(path, start_ms=warm_from, end_ms=end_ms)
    except ValueError as exc:
        raise BacktestInputError(str(exc)) from None
    klines = recording.klines
    if not any(start_ms is None or k.start_ms >= start_ms for k in klines):
        raise BacktestInputError(f"{path}: no klines in the period asked for")
    rules = instruments_path(path)
    filters = read_instruments(rules) if rules.exists() else inferred_filters(klines)
    trading, tag = load_config(config, database_url)
    label = "sample" if sample else str(path)
    return Inputs(klines, filters, trading, tag, label, start_ms, recording.trades)


def run_backtest(
    inputs: Inputs, *, venue: str = "bybit", report: Path | None = None, decisions: Path | None = None
) -> dict[str, Any]:
    options = BacktestOptions(venue=venue)
    run = Backtest(inputs.config, inputs.filters, options).run(inputs.klines, inputs.trade_from_ms, inputs.trades)
    result = summarise(run, options, data=inputs.data, config_tag=inputs.config_tag)
    if report is not None:
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(html_report(result, run, options), encoding="utf-8")
    if decisions is not None:  # one JSON line per signal and its decision, in the order they came
        decisions.parent.mkdir(parents=True, exist_ok=True)
        lines = [json.dumps(d.as_dict(), sort_keys=True) for d in run.decisions]
        decisions.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return result


def make_sample(out: Path = SAMPLE_DIR, *, days: int = SAMPLE_DAYS, seed: int = SAMPLE_SEED) -> dict[str, Any]:
    """The replay sample from the seeded simulator: klines.csv.gz and instruments.json."""
    from titan_sim.core.history import minute_history  # type: ignore[import-not-found,unused-ignore]
    from titan_sim.core.instruments import instrument_for  # type: ignore[import-not-found,unused-ignore]

    klines: list[RecordedKline] = []
    filters: dict[str, InstrumentFilters] = {}
    for symbol in SAMPLE_SYMBOLS:
        spec = instrument_for(symbol, seed)
        klines += minute_history(spec, seed, SAMPLE_START_MS, days * 1440)
        filters[symbol] = InstrumentFilters(
            symbol=symbol, tick_size=spec.tick_size, qty_step=spec.qty_step, min_qty=spec.min_qty,
            max_qty=spec.max_qty, min_notional=spec.min_notional, max_market_qty=spec.max_mkt_qty,
            max_leverage=int(spec.max_leverage),
        )  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    count = write_klines(out / "klines.csv.gz", klines)
    write_instruments(out / INSTRUMENTS_FILE, filters)
    return {"path": str(out), "klines": count, "symbols": list(SAMPLE_SYMBOLS), "days": days, "seed": seed}


# --- AI Quant -------------------------------------------------------------------------------


def last_days(klines: list[RecordedKline], days: int | None) -> list[RecordedKline]:
    if not days or not klines:
        return klines
    since = klines[-1].end_ms - days * 86_400_000
    return [k for k in klines if k.start_ms >= since]


async def _active(database_url: str) -> tuple[TradingConfig, str, int]:
    from titan_common.config import active_config
    from titan_common.db.engine import make_engine, make_sessionmaker

    engine = make_engine(database_url, pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session:
            active = await active_config(session)
    finally:
        await engine.dispose()
    return active.config, active.version_tag, active.created_ms


# in LIVE, a config changed this recently means an operator is at it: the job waits a night
RECENT_CHANGE_MS = 15 * 60_000


async def _file(database_url: str, proposals: list[dict[str, Any]], created_ms: int, base: str) -> list[int]:
    """File them in one transaction, holding the config lock (no change can land meanwhile)
    and only if their base is still the active config."""
    from sqlalchemy import text

    from titan_common.config import CONFIG_LOCK_KEY, active_config
    from titan_common.db.engine import make_engine, make_sessionmaker, transaction
    from titan_common.db.proposals import file_proposal

    engine = make_engine(database_url, pool_size=1)
    try:
        async with transaction(make_sessionmaker(engine)) as session:
            locked = await session.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": CONFIG_LOCK_KEY})
            if not locked:
                raise BacktestInputError("an operator is changing the config right now: nothing filed")
            if (await active_config(session)).version_tag != base:
                raise BacktestInputError(f"the config changed during the search ({base} is not active): nothing filed")
            return [await file_proposal(session, title=p["title"], payload=p, created_ms=created_ms) for p in proposals]
    finally:
        await engine.dispose()


def quant_propose(
    *,
    sample: bool,
    data: Path | None,
    days: int | None,
    config: str | None,
    database_url: str | None,
    live: bool = False,
) -> dict[str, Any]:
    """Search variants of the active config (or --config) over the data and file the ones
    that win on the held-out part as PENDING proposals. Never applies anything."""
    from titan_backtest.engine import MarketReplay
    from titan_backtest.narrate import QuantSettings, narrate
    from titan_backtest.quant import propose, variants
    from titan_brain.core.phases import initial_phase
    from titan_common.clock import now_ms
    from titan_common.settings import load_settings

    if not database_url:
        raise BacktestInputError("proposals are filed in Postgres: set DATABASE_URL")
    inputs = gather_inputs(sample=sample, data=data, start=None, end=None, config=config, database_url=database_url)
    if config:
        trading, tag = inputs.config, inputs.config_tag
    else:
        trading, tag, changed_ms = asyncio.run(_active(database_url))
        if live and now_ms() - changed_ms < RECENT_CHANGE_MS:
            raise BacktestInputError(f"LIVE: the config changed {(now_ms() - changed_ms) // 60_000} min ago; "
                                     "an operator may be at it, so AI Quant waits")  # fmt: skip
    klines = last_days(inputs.klines, days)
    trades = (
        None if inputs.trades is None or not klines else [t for t in inputs.trades if t.ts_ms >= klines[0].start_ms]
    )
    options = BacktestOptions()
    tape = MarketReplay(inputs.filters, options).events(klines, None, trades)
    phase = initial_phase(options.starting_equity, trading)
    proposals = propose(trading, tag, tape, inputs.filters, options, data=inputs.data, phase=phase)
    proposals = narrate(proposals, load_settings(QuantSettings))
    ids = asyncio.run(_file(database_url, proposals, now_ms(), tag)) if proposals else []
    return {
        "base_version": tag,
        "data": inputs.data,
        "variants_tried": len(variants(trading, phase)),
        "proposed": [
            {"id": i, "title": p["title"], "rationale_source": p["rationale_source"]}
            for i, p in zip(ids, proposals, strict=True)
        ],
    }


# --- export ---------------------------------------------------------------------------------


def export_klines(endpoint: str, symbols: list[str], *, days: float, out: Path, now_ms: int) -> dict[str, Any]:
    """Closed 1-minute klines of the last `days` from a Bybit v5 market endpoint (the
    simulator's history, or Bybit's), written in the replay format. Bybit pages newest
    first, 1000 at a time."""
    import httpx

    end = now_ms - now_ms % 60_000 - 1  # the minute still open is not history yet
    start = end + 1 - int(days * 86_400_000)
    rows: list[RecordedKline] = []
    with httpx.Client(base_url=endpoint.rstrip("/"), timeout=20) as client:
        for symbol in symbols:
            upto = end
            while upto >= start:
                params: dict[str, str | int] = {
                    "category": "linear", "symbol": symbol, "interval": "1", "start": start, "end": upto, "limit": 1000,
                }  # fmt: skip
                body = client.get("/v5/market/kline", params=params).raise_for_status().json()
                if body.get("retCode") != 0:
                    raise BacktestInputError(f"{endpoint} refused the klines of {symbol}: {body.get('retMsg')}")
                page = (body.get("result") or {}).get("list") or []
                if not page:
                    break
                for item in page:
                    t = int(item[0])
                    if start <= t <= end:
                        o, h, lo, c, volume = (Decimal(str(v)) for v in item[1:6])
                        rows.append(RecordedKline(symbol, t, o, h, lo, c, volume))
                oldest = min(int(item[0]) for item in page)
                if oldest <= start or len(page) < 1000:
                    break
                upto = oldest - 1
    count = write_klines(out, {(k.symbol, k.start_ms): k for k in rows}.values())
    return {"path": str(out), "klines": count, "symbols": symbols, "from_ms": start, "to_ms": end + 1}


def export_snapshots(
    database_url: str, symbols: list[str], *, venue: str, days: float, out: Path, now_ms: int
) -> dict[str, Any]:
    """The scavenger's stored 15-minute bars (`ohlcv_snapshots`: the bar each breadth cycle
    saw close) of the last `days`, in the replay format with `interval_min` 15. A bar stored
    by more than one cycle is written once."""
    return asyncio.run(_export_snapshots(database_url, symbols, venue=venue, days=days, out=out, now_ms=now_ms))


async def _export_snapshots(
    database_url: str, symbols: list[str], *, venue: str, days: float, out: Path, now_ms: int
) -> dict[str, Any]:
    from sqlalchemy import select

    from titan_common.db.engine import make_engine
    from titan_common.db.models import OhlcvSnapshot

    since = now_ms - int(days * 86_400_000)
    query = (
        select(OhlcvSnapshot)
        .where(OhlcvSnapshot.exchange == venue, OhlcvSnapshot.interval == "15", OhlcvSnapshot.start_ms >= since)
        .order_by(OhlcvSnapshot.id)
    )
    if symbols:
        query = query.where(OhlcvSnapshot.symbol.in_(symbols))
    engine = make_engine(database_url, pool_size=1)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(query)).all()
    finally:
        await engine.dispose()
    bars: dict[tuple[str, int], RecordedKline] = {}
    for r in rows:  # oldest first: a later cycle's copy of a bar wins
        bars[(r.symbol, r.start_ms)] = RecordedKline(
            r.symbol, r.start_ms, r.open, r.high, r.low, r.close, r.volume, interval_ms=BAR_MS
        )
    if not bars:
        raise BacktestInputError(f"no stored 15-minute bars of {venue} in the last {days:g} days")
    count = write_klines(out, bars.values())
    return {
        "path": str(out),
        "klines": count,
        "interval_min": BAR_MS // 60_000,
        "symbols": sorted({s for s, _ in bars}),
        "from_ms": min(t for _, t in bars),
        "to_ms": max(t for _, t in bars) + BAR_MS,
    }
