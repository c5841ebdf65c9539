"""The browser console in real Chromium (Debian's, driven by Playwright) against the live
stack, which trades both venues (Bybit and MEXC spot): log in, see both venues connected,
watch equity update live, arm, hold positions on both venues (a venue column says which)
and FLATTEN ALL through the dialog until the positions table is empty, then walk through
the kill switch with its code and end in PAUSE. Screenshots go to var/test-artifacts/.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.e2e.browser.conftest import VIEWER
from tests.integration.console.stack import ADMIN, Stack, entry, last_price, publish
from titan_common.db.engine import make_engine, make_sessionmaker, transaction
from titan_common.db.proposals import file_proposal

pytestmark = pytest.mark.e2e

TIMEOUT_MS = 30_000


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium_path, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, artifacts: Path, request: pytest.FixtureRequest) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    yield opened
    opened.screenshot(path=str(artifacts / f"{request.node.name}-final.png"), full_page=True)
    context.close()
    assert errors == [], f"JavaScript errors in the page: {errors}"


def log_in(page: Page, stack: Stack, user: str, password: str) -> None:
    page.goto(stack.console + "/")
    expect(page).to_have_url(re.compile(r"/login$"))  # no session yet: the login page
    page.get_by_test_id("username").fill(user)
    page.get_by_test_id("password").fill(password)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("user")).to_have_text(re.compile(user), timeout=TIMEOUT_MS)
    expect(page.get_by_test_id("connection")).to_have_text("🟢 Connected", timeout=TIMEOUT_MS)


def positions_on_venue(stack: Stack) -> int:
    response = httpx.get(f"{stack.console}/positions", timeout=30)
    return int(response.json()["count"])


def test_operator_walkthrough(page: Page, browser_stack: Stack, artifacts: Path) -> None:
    stack = browser_stack
    # a position, so the account's equity moves with the market
    stack.sim_control("POST", "/positions", {"symbol": "BTCUSDT", "side": "Buy", "size": "0.2"})

    # --- log in -------------------------------------------------------------------------
    page.goto(stack.console + "/login")
    page.get_by_test_id("username").fill("admin")
    page.get_by_test_id("password").fill("not-the-password")
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("login-error")).to_contain_text("wrong username or password")
    log_in(page, stack, *ADMIN)
    for venue in ("bybit", "mexc"):  # each venue's link, as its execution's heartbeat says it
        link = page.get_by_test_id(f"venue-link-{venue}")
        expect(link).to_have_attribute("data-state", "connected", timeout=TIMEOUT_MS)
    page.screenshot(path=str(artifacts / "01-logged-in.png"), full_page=True)

    # --- equity updates live (no reload) ------------------------------------------------
    equity = page.get_by_test_id("equity")
    expect(equity).to_have_text(re.compile(r"^\$[\d,]+\.\d\d$"), timeout=TIMEOUT_MS)
    first = equity.inner_text()
    stack.sim_control("POST", "/market/BTCUSDT/burst", {"pct": 2.0, "trades": 40, "window_ms": 4000})
    expect(equity).not_to_have_text(first, timeout=TIMEOUT_MS)
    second = equity.inner_text()
    expect(equity).not_to_have_text(second, timeout=TIMEOUT_MS)
    page.screenshot(path=str(artifacts / "02-equity-live.png"), full_page=True)

    # --- arm ----------------------------------------------------------------------------
    expect(page.get_by_test_id("arm-state")).to_have_text("🔴 DISARMED", timeout=TIMEOUT_MS)
    page.get_by_test_id("arm-button").click()
    expect(page.get_by_test_id("arm-state")).to_have_text("🟢 ARMED", timeout=TIMEOUT_MS)
    expect(page.get_by_test_id("action-result")).to_contain_text("Master arm ARMED")
    page.screenshot(path=str(artifacts / "03-armed.png"), full_page=True)

    # --- two more positions on Bybit, one Titan bought on MEXC, then FLATTEN ALL ----------
    stack.sim_control("POST", "/positions", {"symbol": "ETHUSDT", "side": "Sell", "size": "0.5"})
    stack.sim_control("POST", "/positions", {"symbol": "SOLUSDT", "side": "Buy", "size": "5"})
    publish(stack, entry("mexc", last_price(stack, "mexc")))  # an entry as the brain sends it
    page.get_by_test_id("tab-positions").click()
    count = page.get_by_test_id("positions-count")
    expect(count).to_have_text("4", timeout=TIMEOUT_MS)
    table = page.get_by_test_id("positions-table")
    expect(table.locator("tbody tr")).to_have_count(4)
    expect(page.get_by_test_id("venue-mexc-BTCUSDT")).to_have_text("mexc")
    expect(page.get_by_test_id("venue-bybit-BTCUSDT")).to_have_text("bybit")
    expect(page.get_by_test_id("stop-bybit-ETHUSDT")).not_to_have_text(
        "NONE", timeout=TIMEOUT_MS
    )  # adopted and protected
    page.screenshot(path=str(artifacts / "04-positions.png"), full_page=True)

    page.get_by_test_id("tab-overview").click()
    page.get_by_test_id("flatten-button").click()
    dialog = page.get_by_test_id("confirm-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Are you sure? This will close ALL positions.")
    page.screenshot(path=str(artifacts / "05-flatten-dialog.png"), full_page=True)
    page.get_by_test_id("confirm-ok").click()
    expect(page.get_by_test_id("action-result")).to_contain_text("4 position(s) closed", timeout=TIMEOUT_MS)
    page.get_by_test_id("tab-positions").click()
    expect(count).to_have_text("0", timeout=TIMEOUT_MS)
    expect(table).to_contain_text("no open positions")
    assert positions_on_venue(stack) == 0
    # flatten disarms first, so nothing new opens while closing
    expect(page.get_by_test_id("arm-state")).to_have_text("🔴 DISARMED", timeout=TIMEOUT_MS)
    page.screenshot(path=str(artifacts / "06-flattened.png"), full_page=True)

    # --- the kill switch, with its code -------------------------------------------------
    page.get_by_test_id("tab-overview").click()
    page.get_by_test_id("kill-button").click()
    kill = page.get_by_test_id("kill-dialog")
    expect(kill).to_be_visible()
    code = page.get_by_test_id("kill-code")
    expect(code).to_have_text(re.compile(r"^[A-Z2-9]{4}-[A-Z2-9]{4}$"))
    page.get_by_test_id("kill-input").fill(code.inner_text())
    page.screenshot(path=str(artifacts / "07-kill-switch-code.png"), full_page=True)
    page.get_by_test_id("kill-confirm").click()
    expect(page.get_by_test_id("action-result")).to_contain_text("Kill switch engaged: mode PAUSE", timeout=TIMEOUT_MS)
    badge = page.get_by_test_id("mode-badge")
    expect(badge).to_have_text(re.compile(r"^PAUSE · .*KILL_SWITCH"), timeout=TIMEOUT_MS)
    expect(page.get_by_test_id("recover-button")).to_be_visible()  # an admin sees the manual recovery
    page.screenshot(path=str(artifacts / "08-kill-switch-pause.png"), full_page=True)

    # clean up for later tests of this session: recovery is manual, by an admin
    cleared = httpx.post(
        f"{stack.console}/api/console/kill-switch/recover", json={"reason": "browser drill"}, auth=ADMIN, timeout=30
    )
    assert cleared.status_code == 200


def test_a_viewer_sees_but_cannot_act(page: Page, browser_stack: Stack) -> None:
    log_in(page, browser_stack, *VIEWER)
    for control in ("arm-button", "flatten-button", "cancel-button", "kill-button"):
        expect(page.get_by_test_id(control)).to_be_disabled()
    expect(page.get_by_test_id("equity")).to_have_text(re.compile(r"^\$"), timeout=TIMEOUT_MS)
    page.get_by_test_id("tab-settings").click()
    expect(page.get_by_test_id("risk-form").locator("button")).to_be_disabled()
    expect(page.get_by_test_id("versions-table")).to_be_visible()


def test_the_connection_indicator_reconnects(page: Page, browser_stack: Stack) -> None:
    log_in(page, browser_stack, *ADMIN)
    connection = page.get_by_test_id("connection")
    expect(connection).to_have_text("🟢 Connected", timeout=TIMEOUT_MS)
    # the page sees the console go while it is gone: once it is back (and ready) the page may
    # have reconnected already, so the lost state is checked before the start, not after
    browser_stack.stop("console")
    expect(connection).not_to_have_text("🟢 Connected", timeout=TIMEOUT_MS)  # 🟡 while it retries
    browser_stack.start("console")
    started = time.monotonic()
    expect(connection).to_have_text("🟢 Connected", timeout=60_000)
    assert time.monotonic() - started < 60


def file_proposal_for(stack: Stack, title: str) -> int:
    """A pending proposal on the active config, as `titan quant propose` files them."""
    config = httpx.get(f"{stack.console}/api/console/config", timeout=30).json()
    leverage = 10 if int(config["risk_tuner"]["maxLeverage"]) != 10 else 15
    figures = {"return_pct": 1.5, "max_drawdown_pct": 3.0, "trades": 9, "win_rate": 0.5, "score": 0.0}
    payload = {
        "title": title,
        "base_version": config["version_tag"],
        "request": {"risk": {"maxLeverage": str(leverage)}},
        "diff": [{"path": "risk_tuner.maxLeverage", "before": config["risk_tuner"]["maxLeverage"], "after": leverage}],
        "evidence": {
            "data": "sample",
            "period": {"from_ms": 0, "to_ms": 1, "held_out_from_ms": 1, "split": "by time"},
            "baseline": {"search": figures, "held_out": {**figures, "return_pct": -2.0}},
            "candidate": {"search": {**figures, "return_pct": 2.5}, "held_out": {**figures, "return_pct": 1.0}},
        },
        "rationale": f"{title}: better on the held-out part",
    }

    async def insert() -> int:
        engine = make_engine(stack.database_url, pool_size=1)
        try:
            async with transaction(make_sessionmaker(engine)) as session:
                return await file_proposal(session, title=title, payload=payload, created_ms=int(time.time() * 1000))
        finally:
            await engine.dispose()

    with ThreadPoolExecutor(1) as pool:  # Playwright's sync API holds this thread's event loop
        return pool.submit(asyncio.run, insert()).result()


def test_an_operator_approves_one_proposal_and_rejects_another(
    page: Page, browser_stack: Stack, artifacts: Path
) -> None:
    log_in(page, browser_stack, *ADMIN)
    rejected = file_proposal_for(browser_stack, "AI Quant: to reject")
    page.reload()
    card = page.get_by_test_id(f"proposal-{rejected}")
    expect(card).to_contain_text("AI Quant: to reject", timeout=TIMEOUT_MS)
    expect(card).to_contain_text("held out")
    expect(card.locator("svg.evidence-chart")).to_be_visible()
    page.screenshot(path=str(artifacts / "10-proposal-card.png"), full_page=True)
    page.once("dialog", lambda dialog: dialog.accept("not this week"))
    page.get_by_test_id(f"reject-{rejected}").click()
    expect(page.get_by_test_id("action-result")).to_have_text(f"Proposal #{rejected} rejected", timeout=TIMEOUT_MS)
    expect(page.get_by_test_id(f"proposal-{rejected}")).to_have_count(0, timeout=TIMEOUT_MS)

    approved = file_proposal_for(browser_stack, "AI Quant: to approve")
    page.reload()
    expect(page.get_by_test_id(f"proposal-{approved}")).to_be_visible(timeout=TIMEOUT_MS)
    page.get_by_test_id(f"approve-{approved}").click()
    expect(page.get_by_test_id("confirm-dialog")).to_contain_text(f"Apply proposal #{approved}")
    page.get_by_test_id("confirm-ok").click()
    expect(page.get_by_test_id("action-result")).to_have_text(
        re.compile(rf"Proposal #{approved} approved: config "), timeout=TIMEOUT_MS
    )
    expect(page.get_by_test_id(f"proposal-{approved}")).to_have_count(0, timeout=TIMEOUT_MS)
    versions = httpx.get(f"{browser_stack.console}/api/config/versions?limit=1", timeout=30).json()
    assert f"proposal {approved} (AI Quant: to approve)" in str(versions)
