"""One owner per table (docs/architecture.md): no service but the owner builds a query on,
or a row of, the tables named here; others read them through titan_common.db.reads, with the
owner's filters. Master arm has one writer, execution. Pure: it reads source, runs nothing."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
OWNERS = {
    "TradeRow": "titan_execution",
    "PositionRow": "titan_execution",
    "OrderRow": "titan_execution",
    "FillRow": "titan_execution",
    "ReconcileRun": "titan_execution",
    "ReconcileDiff": "titan_execution",
    "EquitySnapshot": "titan_brain",
    "BreakerEvent": "titan_brain",
    "SignalRow": "titan_brain",
    "DecisionRow": "titan_brain",
    "ConfigVersion": "titan_console",
    "DailyReportRow": "titan_worker",
}
# the models, the shared reads, and config versions' own read and append (the console's table)
SHARED = {"titan_common/db/models.py", "titan_common/db/reads.py", "titan_common/config.py"}


def sources() -> list[tuple[str, Path]]:
    """(package, file) for every module of titan_common, the services and the tools."""
    found = []
    for package in [
        ROOT / "libs/titan_common/titan_common",
        *ROOT.glob("services/*/titan_*"),
        *ROOT.glob("tools/*/titan_*"),
    ]:
        found += [(package.name, path) for path in sorted(package.rglob("*.py"))]
    return found


def _is(node: ast.AST, model: str) -> bool:
    return isinstance(node, ast.Name) and node.id == model


def uses(tree: ast.AST, model: str) -> list[int]:
    """Lines where `model` is queried (Model.column, select(Model)) or built (Model(...)); a
    type annotation naming it is neither."""
    lines = []
    for node in ast.walk(tree):
        queried = isinstance(node, ast.Attribute) and _is(node.value, model)
        # Model(...), and select(Model), insert(Model), session.get(Model, ...)
        called = isinstance(node, ast.Call) and (
            _is(node.func, model) or (bool(node.args) and _is(node.args[0], model))
        )
        if queried or called:
            lines.append(node.lineno)
    return lines


def test_only_the_owner_queries_or_writes_its_tables() -> None:
    strays = []
    for package, path in sources():
        if any(path.as_posix().endswith(shared) for shared in SHARED):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for model, owner in OWNERS.items():
            if package != owner:
                strays += [f"{path.relative_to(ROOT)}:{line} {model}" for line in uses(tree, model)]
    assert strays == []


def test_master_arm_has_one_writer() -> None:
    writers = sorted(
        str(path.relative_to(ROOT)) for _, path in sources() if "def set_master_arm" in path.read_text(encoding="utf-8")
    )
    assert writers == ["services/execution/titan_execution/runtime/master_arm.py"]
    callers = {package for package, path in sources() if "set_master_arm(" in path.read_text(encoding="utf-8")}
    assert callers == {"titan_execution"}


def test_the_check_finds_a_stray_query() -> None:
    query = "select(TradeRow).where(TradeRow.pnl > 0)"
    tree = ast.parse(f"from x import TradeRow\nasync def f(s):\n    return await s.scalars({query})\n")
    assert uses(tree, "TradeRow") == [3, 3]
    typed = ast.parse("def g(rows: list[TradeRow]) -> None: ...\n")
    assert uses(typed, "TradeRow") == []
