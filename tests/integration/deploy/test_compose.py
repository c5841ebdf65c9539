"""docker-compose.yml and the Dockerfile, checked without a Docker engine: the compose file
against the Compose schema (deploy/compose-spec.schema.json, with jsonschema), then what
the schema cannot say: every container the issue lists, healthchecks, named volumes,
secrets only from the env file, commands that name real services, hashed installs."""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from titan_common.settings import DEFAULT_PORTS, CommonSettings
from titan_ops.cli.nginx import PLACEHOLDER
from titan_ops.registry import SERVICES

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
COMPOSE = ROOT / "docker-compose.yml"
SCHEMA = ROOT / "deploy" / "compose-spec.schema.json"
ENV_EXAMPLE = ROOT / "deploy" / "titan.env.example"
TITAN_SERVICES = ("brain", "execution", "console", "scavenger", "simulator", "worker", "beat")
ONE_SHOTS = ("init", "tls-init")


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
    ports = compose()["services"]["netns"]["ports"]
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
