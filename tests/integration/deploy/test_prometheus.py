"""Prometheus: the scrape configs and the alert rules pass promtool (check and unit tests),
every alert is unit-tested, and every metric the alerts and the Grafana dashboard read is
one a Titan process exports."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from titan_common.settings import DEFAULT_PORTS, CommonSettings
from titan_worker.settings import WorkerSettings

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
PROM = ROOT / "deploy" / "prometheus"
DASHBOARD = ROOT / "deploy" / "grafana" / "titan-dashboard.json"
METRIC = re.compile(r"\b(titan_[a-z0-9_]+)")
# where metrics are defined: the shared ones, each service's runtime, the worker
METRIC_SOURCES = [
    ROOT / "libs/titan_common/titan_common/metrics.py",
    *ROOT.glob("services/*/titan_*/runtime/metrics.py"),
    ROOT / "services/worker/titan_worker/metrics.py",
]


def promtool(*args: str, cwd: Path = PROM) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("promtool")
    if binary is None:
        pytest.skip("promtool is not installed (.ci/run installs Debian's prometheus package with apt-get)")
    return subprocess.run([binary, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def alert_rules() -> dict[str, dict[str, object]]:
    groups = yaml.safe_load((PROM / "alerts.yml").read_text())["groups"]
    return {rule["alert"]: rule for group in groups for rule in group["rules"]}


def exported_metrics() -> set[str]:
    names: set[str] = set()
    for source in METRIC_SOURCES:
        names |= set(re.findall(r'"(titan_[a-z0-9_]+)"', source.read_text()))
    return names


def base_name(name: str) -> str:
    return re.sub(r"_(bucket|sum|count)$", "", name)


def test_the_scrape_config_is_valid() -> None:
    result = promtool("check", "config", "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_alert_rules_pass_promtool_check_and_unit_tests() -> None:
    checked = promtool("check", "rules", "alerts.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = promtool("test", "rules", "alerts.test.yml")
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout + tested.stderr


def test_every_alert_has_a_unit_test_that_fires_it() -> None:
    tests = yaml.safe_load((PROM / "alerts.test.yml").read_text())["tests"]
    fired = {check["alertname"] for test in tests for check in test["alert_rule_test"] if check.get("exp_alerts")}
    quiet = {check["alertname"] for test in tests for check in test["alert_rule_test"] if not check.get("exp_alerts")}
    assert set(alert_rules()) == fired
    assert set(alert_rules()) == quiet  # and a case where it stays quiet


def test_the_manuals_thresholds_are_encoded() -> None:
    rules = {name: str(rule["expr"]) for name, rule in alert_rules().items()}
    expected = {
        "TitanDailyLossWarning": ">= 0.05",
        "TitanDailyLossCritical": ">= 0.10",
        "TitanWinRateLow": "< 0.45",
        "TitanWinRateCritical": "< 0.40",
        "TitanLatencyHigh": "> 100",
        "TitanLatencyCritical": "> 500",
        "TitanMemoryHigh": "> 450e6",
        "TitanMemoryCritical": "> 500e6",
        "TitanCpuHigh": "> 70",
        "TitanCpuCritical": "> 90",
    }
    for name, threshold in expected.items():
        assert threshold in rules[name], (name, rules[name])
    for name in (
        "TitanCircuitBreakerActive",
        "TitanExchangeDisconnected",
        "TitanServiceDown",
        "TitanReconcileDrift",
        "TitanDbWriterQueueHigh",
    ):
        assert name in rules
    severities = {name: rule["labels"]["severity"] for name, rule in alert_rules().items()}  # type: ignore[index]
    assert set(severities.values()) == {"warning", "critical"}


def test_alerts_read_only_metrics_titan_exports() -> None:
    exported = exported_metrics()
    used = {base_name(m) for rule in alert_rules().values() for m in METRIC.findall(str(rule["expr"]))}
    assert used
    assert used <= exported, f"alerts read metrics nobody exports: {sorted(used - exported)}"


def test_every_service_is_scraped_on_its_port() -> None:
    jobs = {
        job["job_name"]: job["static_configs"][0]["targets"][0]
        for job in yaml.safe_load((PROM / "prometheus.yml").read_text())["scrape_configs"]
    }
    for service in ("brain", "execution", "console", "scavenger"):
        assert jobs[f"titan-{service}"] == f"127.0.0.1:{DEFAULT_PORTS[service]}"
    assert jobs["titan-worker"] == f"127.0.0.1:{WorkerSettings.model_fields['worker_metrics_port'].default}"


def test_mexcs_execution_and_scavenger_are_scraped_once_uncommented(tmp_path: Path) -> None:
    """Off by default (an installation without MEXC must raise no TitanServiceDown); the
    commented block, uncommented, is a valid config that scrapes MEXC's two processes."""
    text = (PROM / "prometheus.yml").read_text()
    block = text.split("# --- mexc ---\n", 1)[1].split("# --- end mexc ---", 1)[0]
    jobs = yaml.safe_load("\n".join(line.replace("# ", "", 1) for line in block.splitlines()))
    settings = CommonSettings(venues="bybit,mexc")
    assert {job["job_name"]: job["static_configs"][0]["targets"] for job in jobs} == {
        f"titan-{kind}-mexc": [f"127.0.0.1:{settings.port_of(f'{kind}-mexc')}"] for kind in ("execution", "scavenger")
    }
    enabled = text.replace(block, "\n".join(line.replace("# ", "", 1) for line in block.splitlines()) + "\n")
    (tmp_path / "prometheus.yml").write_text(enabled)
    shutil.copy(PROM / "alerts.yml", tmp_path / "alerts.yml")
    checked = promtool("check", "config", "prometheus.yml", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_grafana_dashboard_queries_parse_and_read_exported_metrics(tmp_path: Path) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    assert len(exprs) >= 20
    assert dashboard["uid"] == "titan-overview"
    used = {base_name(m) for e in exprs for m in METRIC.findall(e)}
    assert used <= exported_metrics(), sorted(used - exported_metrics())
    # promtool parses PromQL inside recording rules: every panel query must parse
    rules = {"groups": [{"name": "dashboard", "rules": [{"record": f"dashboard:q{i}", "expr": e} for i, e in
                                                         enumerate(exprs)]}]}  # fmt: skip
    (tmp_path / "dashboard-rules.yml").write_text(yaml.safe_dump(rules))
    parsed = promtool("check", "rules", "dashboard-rules.yml", cwd=tmp_path)
    assert parsed.returncode == 0, parsed.stdout + parsed.stderr
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
