"""docker-compose.yml and the Dockerfile, checked without a Docker engine: the compose file
against the Compose schema (deploy/compose-spec.schema.json, with jsonschema), then what
the schema cannot say: every container the issue lists, healthchecks, named volumes,
secrets only from the env file, commands that name real services, hashed installs."""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from titan_common.settings import DEFAULT_PORTS, CommonSettings
from titan_console.settings import ConsoleSettings
from titan_ops.cli.nginx import PLACEHOLDER
from titan_ops.registry import SERVICES

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
COMPOSE = ROOT / "docker-compose.yml"
SCHEMA = ROOT / "deploy" / "compose-spec.schema.json"
ENV_EXAMPLE = ROOT / "deploy" / "titan.env.example"
TITAN_SERVICES = ("brain", "execution", "console", "scavenger", "simulator", "worker", "beat")
ONE_SHOTS = ("init", "tls-init")
PROMETHEUS = ROOT / "deploy" / "prometheus"
# every process of the stack, each its own service (and so its own container)
PROCESSES = (
    *TITAN_SERVICES,
    "execution-mexc",
    "scavenger-mexc",
    *ONE_SHOTS,
    "nginx",
    "prometheus",
    "postgres",
    "redis",
)
URL_HOST = re.compile(r"^(?:https?|postgresql|redis)://(?:[^@/]*@)?([^:/]+)(?::(\d+))?")


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def validator() -> jsonschema.Draft7Validator:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def test_compose_validates_against_the_schema() -> None:
    errors = sorted(validator().iter_errors(compose()), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("services", "brain", "healthchek"), {"test": ["CMD", "true"]}),
        (("services", "brain", "depends_on", "redis", "condition"), "service_ready"),
        (("services", "brain", "restart"), "sometimes"),
        (("services", "brain", "healthcheck", "interval"), "ten seconds"),
        (("volumes", "bad name!"), {}),
    ],
    ids=["misspelt-key", "bad-condition", "bad-restart", "bad-duration", "bad-volume-name"],
)
def test_the_schema_refuses_mistakes(path: tuple[str, ...], value: object) -> None:
    broken = copy.deepcopy(compose())
    target = broken
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    assert list(validator().iter_errors(broken))


def test_every_container_the_deployment_needs() -> None:
    services = compose()["services"]
    for name in ("postgres", "redis", "nginx", "brain", "execution", "console", "scavenger", "worker", "beat",
                 "prometheus", "simulator"):  # fmt: skip
        assert name in services, name
    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["redis"]["image"].startswith("redis:7")
    assert services["nginx"]["image"].startswith("nginx:")
    assert services["prometheus"]["image"].startswith("prom/prometheus:v")
    assert services["simulator"]["profiles"] == ["paper"]
    assert {n: s["profiles"] for n, s in services.items() if "profiles" in s} == {
        "simulator": ["paper"], "execution-mexc": ["mexc"], "scavenger-mexc": ["mexc"],
    }  # fmt: skip
    # images are pinned to a version, never latest
    for name, service in services.items():
        image = service.get("image", "")
        assert ":" in image, (name, image)
        assert not image.endswith(":latest"), (name, image)


def test_one_image_with_the_process_chosen_by_its_command() -> None:
    services = compose()["services"]
    for name in TITAN_SERVICES:
        service = services[name]
        assert service["image"] == "titan:local"
        assert service["build"] == "."
        command = service["command"]
        if name in ("worker", "beat"):
            assert command == ["python", "-m", "titan_worker", name]
        else:
            assert command == ["titan", "serve", name]
            assert name in SERVICES


def test_healthchecks_everywhere_that_runs_for_long() -> None:
    services = compose()["services"]
    for name, service in services.items():
        if name in ONE_SHOTS:
            assert service["restart"] == "no"
            continue
        assert "healthcheck" in service, name
        assert service.get("restart") == "unless-stopped", name
    for name in ("brain", "execution", "console", "scavenger", "simulator"):
        url = services[name]["healthcheck"]["test"][-1]
        assert url == f"http://127.0.0.1:{DEFAULT_PORTS[name]}/health", (name, url)


def test_mexcs_execution_and_scavenger_serve_their_venue_on_their_ports() -> None:
    services = compose()["services"]
    settings = CommonSettings(venues="bybit,mexc")
    for kind in ("execution", "scavenger"):
        service = services[f"{kind}-mexc"]
        assert service["command"] == ["titan", "serve", kind]
        assert service["environment"][f"TITAN_{kind.upper()}_VENUE"] == "mexc"
        assert service["environment"]["TITAN_EXCHANGE"] == "mexc"
        assert service["environment"]["REDIS_URL"] == services[kind]["environment"]["REDIS_URL"]
        port = settings.port_of(f"{kind}-mexc")
        assert service["healthcheck"]["test"][-1] == f"http://127.0.0.1:{port}/health"


def test_named_volumes_are_declared_and_used() -> None:
    document = compose()
    declared = set(document["volumes"])
    used = set()
    for service in document["services"].values():
        for mount in service.get("volumes", []):
            source = mount.split(":", 1)[0]
            if not source.startswith((".", "/")):
                used.add(source)
            else:
                assert (ROOT / source).exists(), source  # bind mounts point at files in the repo
    assert used == declared
    assert {"pgdata", "redisdata", "titan-var", "prometheus-data", "tls"} <= declared


def test_secrets_come_only_from_the_env_file() -> None:
    text = COMPOSE.read_text()
    services = compose()["services"]
    for name in (*TITAN_SERVICES, *ONE_SHOTS[:1]):
        assert services[name]["env_file"] == ".env", name
    # no credential is written into the file: only interpolations of the env file's values
    for service in services.values():
        environment = service.get("environment", {})
        for key, value in environment.items():
            if re.search(r"(?i)password|secret|token|api_key", key):
                assert str(value).startswith("${"), (key, value)
        if "DATABASE_URL" in environment:
            assert "${POSTGRES_PASSWORD" in environment["DATABASE_URL"]
    referenced = set(re.findall(r"\$\{([A-Z_]+)", text))
    example = set(re.findall(r"^([A-Z_]+)=", ENV_EXAMPLE.read_text(), re.M))
    assert referenced <= example, f"variables the env example does not define: {referenced - example}"
    assert "POSTGRES_PASSWORD" in referenced


def test_dependencies_exist_and_order_the_start() -> None:
    services = compose()["services"]
    for name, service in services.items():
        depends = service.get("depends_on", {})
        for target in depends:
            assert target in services, (name, target)
    brain = services["brain"]["depends_on"]
    assert brain["init"]["condition"] == "service_completed_successfully"
    assert brain["postgres"]["condition"] == "service_healthy"
    assert brain["simulator"] == {"condition": "service_healthy", "required": False}
    assert services["nginx"]["depends_on"]["tls-init"]["condition"] == "service_completed_successfully"
    # the governance lock runs before anything trades; LIVE stops on a mismatch
    assert "titan preflight" in " ".join(services["init"]["command"])
    assert "titan migrate" in " ".join(services["init"]["command"])


def test_nginx_renders_the_same_template_titan_up_uses() -> None:
    nginx = compose()["services"]["nginx"]
    assert "./deploy/nginx/titan.conf:/etc/nginx/templates/titan.conf.template:ro" in nginx["volumes"]
    placeholders = set(PLACEHOLDER.findall((ROOT / "deploy" / "nginx" / "titan.conf").read_text()))
    assert placeholders <= set(nginx["environment"]), placeholders - set(nginx["environment"])
    assert nginx["environment"]["NGINX_ENVSUBST_FILTER"] == "TITAN_"
    # no `netns` container any more: what the stack publishes is the union of every service's
    ports = [p for service in compose()["services"].values() for p in service.get("ports", [])]
    assert "443:443" in ports
    assert all(p.startswith("127.0.0.1:") for p in ports if p not in ("443:443", "80:80"))


def test_the_dockerfile_installs_only_hashed_dependencies() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    installs = [line for line in dockerfile.splitlines() if "pip install" in line and "-r " in line]
    assert installs
    for line in installs:
        assert "--require-hashes" in line, line
        assert "--no-deps" in line, line
    assert re.search(r"^FROM python:3\.11-slim-bookworm$", dockerfile, re.M)
    assert "USER titan" in dockerfile
    assert re.search(r"^COPY .*governance\.lock", dockerfile, re.M)
    # and the lock file it installs from pins every package with its hash
    entries = re.split(r"\n(?=[A-Za-z0-9_.\[\]-]+==)", (ROOT / "requirements.txt").read_text())
    pinned = [entry for entry in entries if re.match(r"[A-Za-z0-9_.\[\]-]+==", entry)]
    assert len(pinned) > 20
    for entry in pinned:
        assert "--hash=sha256:" in entry, entry.splitlines()[0]


def test_docker_compose_config_when_docker_compose_is_installed(tmp_path: Path) -> None:
    docker = shutil.which("docker")
    if docker is None or subprocess.run([docker, "compose", "version"], capture_output=True).returncode != 0:
        pytest.skip("no `docker compose` here; the schema test above is the CI check")
    env = tmp_path / ".env"
    env.write_text(ENV_EXAMPLE.read_text())
    result = subprocess.run(
        [docker, "compose", "-f", str(COMPOSE), "--env-file", str(env), "config", "-q"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


# --- each process in a container of its own, addressed by service name ---------------------


def titan_environment(name: str) -> dict[str, str]:
    return {k: str(v) for k, v in compose()["services"][name].get("environment", {}).items()}


def test_no_service_shares_another_ones_network_namespace() -> None:
    services = compose()["services"]
    assert "netns" not in services
    for name, service in services.items():
        assert "network_mode" not in service, (name, service["network_mode"])
        assert "container_name" not in service, name  # a fixed name would clash; the service name is the address
    # one network for the stack; its pinned subnet is what the console trusts
    subnet = compose()["networks"]["default"]["ipam"]["config"][0]["subnet"]
    for name in (*TITAN_SERVICES, "execution-mexc", "scavenger-mexc"):
        assert titan_environment(name)["TITAN_TRUSTED_NETWORKS"] == subnet, name


def test_each_titan_process_is_its_own_service() -> None:
    services = compose()["services"]
    assert set(PROCESSES) <= set(services)
    started = []
    for name, service in services.items():
        command = service.get("command", [])
        text = " ".join(command) if isinstance(command, list) else str(command)
        assert "titan up" not in text, name  # the supervisor runs several processes in one container
        environment = titan_environment(name)
        venue = environment.get("TITAN_EXECUTION_VENUE") or environment.get("TITAN_SCAVENGER_VENUE") or ""
        started.append((text, venue))
    serving = [entry for entry in started if entry[0].startswith(("titan serve", "python -m titan_worker"))]
    assert len(serving) == len(set(serving)), "two services run the same process"
    assert len(serving) == len(TITAN_SERVICES) + 2  # + MEXC's execution and scavenger


def test_every_titan_process_listens_on_its_containers_addresses() -> None:
    for name in (*TITAN_SERVICES, "execution-mexc", "scavenger-mexc"):
        environment = titan_environment(name)
        assert environment["TITAN_BIND_HOST"] == "0.0.0.0", name
        assert "TITAN_HOST" not in environment or environment["TITAN_HOST"] != "0.0.0.0", name


def address_of(url: str) -> tuple[str, int | None]:
    match = URL_HOST.match(url)
    assert match, url
    return match.group(1), int(match.group(2)) if match.group(2) else None


def port_of_service(name: str) -> int:
    if name in ("postgres", "redis"):
        return {"postgres": 5432, "redis": 6379}[name]
    if name == "worker":
        from titan_worker.settings import WorkerSettings

        return int(WorkerSettings.model_fields["worker_metrics_port"].default)
    return CommonSettings(venues="bybit,mexc").port_of(name)


def url_problems(document: dict[str, Any]) -> list[str]:
    """Every URL a container is given that does not name a service of `document` on that
    service's port (JSON maps by venue included)."""
    services = document["services"]
    problems, checked = [], 0
    for name, service in services.items():
        for key, value in service.get("environment", {}).items():
            value = str(value)
            values = list(json.loads(value).values()) if value.startswith("{") else [value]
            for url in values:
                if not URL_HOST.match(url):
                    continue
                checked += 1
                host, port = address_of(url)
                if host not in services or port != port_of_service(host):
                    problems.append(f"{name}: {key}={url}")
    return problems if checked else ["no URL at all"]


def test_cross_service_urls_name_services_of_this_file(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every URL a container is given names a service defined here, on that service's port;
    and the settings every process loads (the variables' real names) resolve to them."""
    assert url_problems(compose()) == []
    broken = copy.deepcopy(compose())
    broken["services"]["brain"]["environment"] = {"TITAN_CONSOLE_URL": "http://consol:3002"}
    broken["services"]["console"]["environment"] = {"TITAN_EXECUTION_URLS": '{"mexc": "http://127.0.0.1:3013"}'}
    broken["services"]["worker"]["environment"] = {"TITAN_SCAVENGER_URL": "http://scavenger:3003"}
    assert len(url_problems(broken)) == 3
    for name in (*TITAN_SERVICES, "execution-mexc", "scavenger-mexc"):
        for key in [k for k in os.environ if k.startswith("TITAN_")]:
            monkeypatch.delenv(key)
        for key, value in titan_environment(name).items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("TITAN_VENUES", "bybit,mexc")
        monkeypatch.setenv("DATABASE_URL", "postgresql://titan@postgres:5432/titan")  # the password interpolated
        settings = ConsoleSettings()
        for peer in ("brain", "execution", "execution-mexc", "console", "scavenger", "scavenger-mexc", "simulator"):
            assert settings.url_of(peer) == f"http://{peer}:{port_of_service(peer)}", (name, peer)
        assert settings.bind_address == "0.0.0.0"
        assert settings.trusted  # nginx and Prometheus read the console's /metrics as its peers


def test_nginx_proxies_to_the_console_and_the_brain_by_name() -> None:
    environment = titan_environment("nginx")
    assert environment["TITAN_CONSOLE_UPSTREAM"] == "console:3002"
    assert environment["TITAN_BRAIN_UPSTREAM"] == "brain:3100"
    depends = compose()["services"]["nginx"]["depends_on"]
    assert {"console", "brain"} <= set(depends)
    assert compose()["services"]["nginx"]["ports"] == ["443:443", "80:80"]
    assert compose()["services"]["prometheus"]["ports"] == ["127.0.0.1:9090:9090"]


def scrape_targets(path: Path) -> dict[str, list[str]]:
    text = path.read_text()
    jobs = yaml.safe_load(text)["scrape_configs"]
    block = text.split("# --- mexc ---\n", 1)[1].split("# --- end mexc ---", 1)[0]
    jobs += yaml.safe_load("\n".join(line.replace("# ", "", 1) for line in block.splitlines()))
    return {job["job_name"]: job["static_configs"][0]["targets"] for job in jobs}


def test_compose_prometheus_scrapes_every_process_by_service_name() -> None:
    """prometheus.compose.yml is prometheus.yml (one server, loopback) with each target the
    service's name: the same jobs, ports, rules and MEXC block."""
    prometheus = compose()["services"]["prometheus"]
    assert "--config.file=/etc/prometheus/prometheus.compose.yml" in prometheus["command"]
    assert "./deploy/prometheus:/etc/prometheus:ro" in prometheus["volumes"]
    by_name = scrape_targets(PROMETHEUS / "prometheus.compose.yml")
    on_loopback = scrape_targets(PROMETHEUS / "prometheus.yml")
    assert set(by_name) == set(on_loopback)
    services = compose()["services"]
    for job, targets in by_name.items():
        if job == "prometheus":
            assert targets == on_loopback[job]
            continue
        (target,) = targets
        host, port = target.rsplit(":", 1)
        assert host == job.removeprefix("titan-"), (job, target)
        assert host in services, (job, target)
        assert int(port) == port_of_service(host)
        assert on_loopback[job] == [f"127.0.0.1:{port}"]
    loopback = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    compose_config = yaml.safe_load((PROMETHEUS / "prometheus.compose.yml").read_text())
    assert compose_config["rule_files"] == loopback["rule_files"]
    assert compose_config["global"] == loopback["global"]


def test_compose_prometheus_config_passes_promtool() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (.ci/run installs Debian's prometheus package with apt-get)")
    result = subprocess.run(
        [promtool, "check", "config", "prometheus.compose.yml"],
        cwd=PROMETHEUS, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
