"""Real nginx in front of a live stack, rendered from deploy/nginx/titan.conf by the same
code `titan up` uses (titan_ops.cli.nginx).

`trust_test_client=True` adds two lines to the rendered server block so a test can speak
as any client address over loopback (ngx_http_realip: the address comes from a test
header, trusted from 127.0.0.1 only). That is how the tests reach the /metrics deny rule
from "outside" and give each rate-limit test a fresh bucket. Nothing else is changed.
"""

from __future__ import annotations

import contextlib
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from titan_common.embedded import free_port, port_answers
from titan_ops.cli import nginx

CLIENT_HEADER = "X-Test-Client-Address"


def nginx_or_skip() -> str:
    binary = nginx.nginx_binary()
    if binary is None:
        pytest.skip("nginx is not installed (.ci/run installs it with apt-get: apt-get install nginx)")
    return binary


@dataclass
class Edge:
    url: str  # https://127.0.0.1:<port>
    port: int
    layout: nginx.NginxLayout
    process: subprocess.Popen[bytes]

    def tls(self) -> ssl.SSLContext:
        """Trusts exactly the local self-signed certificate (its SANs include 127.0.0.1)."""
        return ssl.create_default_context(cafile=str(self.layout.tls_dir / "titan.crt"))

    def client(self, **kwargs: object) -> httpx.Client:
        return httpx.Client(base_url=self.url, verify=self.tls(), timeout=60, **kwargs)  # type: ignore[arg-type]

    def access_log(self) -> str:
        path = self.layout.access_log
        return path.read_text(errors="replace") if path.exists() else ""

    def error_log(self) -> str:
        path = self.layout.error_log
        return path.read_text(errors="replace") if path.exists() else ""


@contextlib.contextmanager
def running_edge(root: Path, *, console_port: int, brain_port: int, trust_test_client: bool = False) -> Iterator[Edge]:
    binary = nginx_or_skip()
    port = free_port()
    layout = nginx.prepare(
        root, port=port, console_upstream=f"127.0.0.1:{console_port}", brain_upstream=f"127.0.0.1:{brain_port}"
    )
    if trust_test_client:
        site = layout.site_conf.read_text()
        trusted = f"    set_real_ip_from 127.0.0.1;\n    real_ip_header {CLIENT_HEADER};\n"
        layout.site_conf.write_text(site.replace("    server_name _;\n", "    server_name _;\n" + trusted, 1))
    nginx.check_config(layout)
    log = (root / "nginx.out").open("ab")
    process = subprocess.Popen(nginx.argv(layout, binary), stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while not port_answers("127.0.0.1", port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"nginx did not listen on {port}: {layout.error_log.read_text(errors='replace')}")
            time.sleep(0.05)
        yield Edge(f"https://127.0.0.1:{port}", port, layout, process)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
