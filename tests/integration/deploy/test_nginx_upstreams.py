"""nginx's upstreams come from the same settings as every Titan process (TITAN_CONSOLE_URL,
TITAN_BRAIN_URL, else TITAN_HOST and the ports): a console and a brain on other hosts or
in containers of their own are what the rendered config proxies to, and `nginx -t`
accepts it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.deploy.edge import nginx_or_skip
from titan_common.embedded import free_port
from titan_common.settings import CommonSettings
from titan_ops.cli import nginx

pytestmark = pytest.mark.integration

TITAN = str(Path(sys.executable).parent / "titan")


@pytest.mark.parametrize(
    ("given", "upstream"),
    [
        ("http://console:3002", "console:3002"),
        ("http://10.77.0.13:3002/", "10.77.0.13:3002"),
        ("127.0.0.1:3100", "127.0.0.1:3100"),
        ("http://[fd00::5]:3100", "[fd00::5]:3100"),
    ],
)
def test_an_upstream_from_a_base_url_or_host_port(given: str, upstream: str) -> None:
    assert nginx.upstream_of(given) == upstream


@pytest.mark.parametrize("bad", ["https://console:3002", "http://console", "http://console:3002/api", "console"])
def test_what_nginx_cannot_proxy_to_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match=r"upstream|plain http"):
        nginx.upstream_of(bad)


def test_upstreams_follow_the_settings() -> None:
    assert nginx.upstreams(CommonSettings()) == {
        "TITAN_CONSOLE_UPSTREAM": "127.0.0.1:3002",
        "TITAN_BRAIN_UPSTREAM": "127.0.0.1:3100",
    }
    moved = CommonSettings(console_url="http://console:3002", brain_url="http://10.77.0.11:3100")
    assert nginx.upstreams(moved) == {
        "TITAN_CONSOLE_UPSTREAM": "console:3002",
        "TITAN_BRAIN_UPSTREAM": "10.77.0.11:3100",
    }


def upstream_servers(config: str) -> dict[str, str]:
    """upstream titan_<name> { server <address>; } -> {name: address}"""
    found: dict[str, str] = {}
    for block in config.split("upstream titan_")[1:]:
        name, _, rest = block.partition(" {")
        found[name] = rest.split("server ", 1)[1].split(";", 1)[0]
    return found


def test_titan_nginx_render_takes_the_upstreams_from_the_environment(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TITAN_")}
    env.update({"TITAN_CONSOLE_URL": "http://10.77.0.13:3002", "TITAN_BRAIN_URL": "http://brain.internal:3100"})
    out = tmp_path / "titan.conf"
    subprocess.run(
        [TITAN, "nginx", "render", "--out", str(out), "--tls-dir", str(tmp_path), "--log-dir", str(tmp_path)],
        env=env, check=True, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert upstream_servers(out.read_text()) == {"console": "10.77.0.13:3002", "brain": "brain.internal:3100"}
    # an option still wins, as a URL or host:port; an upstream nginx cannot reach is refused
    subprocess.run(
        [TITAN, "nginx", "render", "--out", str(out), "--console-upstream", "console:3002"],
        env=env, check=True, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert upstream_servers(out.read_text())["console"] == "console:3002"
    refused = subprocess.run(
        [TITAN, "nginx", "render", "--out", str(tmp_path / "x.conf"), "--brain-upstream", "https://brain:3100"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert refused.returncode == 2
    assert "plain http" in refused.stdout
    assert not (tmp_path / "x.conf").exists()


def test_nginx_t_accepts_upstreams_on_other_hosts(tmp_path: Path) -> None:
    """The layout `titan up` runs, with the console and the brain elsewhere (nginx -t resolves
    names, so these are an address and a name every host knows)."""
    nginx_or_skip()
    settings = CommonSettings(console_url="http://10.77.0.13:3002", brain_url="http://localhost:3100")
    layout = nginx.prepare(
        tmp_path,
        port=free_port(),
        console_upstream=settings.url_of("console"),
        brain_upstream=settings.url_of("brain"),
    )
    nginx.check_config(layout)
    assert upstream_servers(layout.site_conf.read_text()) == {"console": "10.77.0.13:3002", "brain": "localhost:3100"}
    # and a broken one is refused by nginx -t, so the check above means something
    layout.site_conf.write_text(layout.site_conf.read_text().replace("server 10.77.0.13:3002;", "server ;", 1))
    with pytest.raises(nginx.NginxUnavailable, match="nginx -t refused"):
        nginx.check_config(layout)
