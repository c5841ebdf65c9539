"""Container healthcheck: exit 0 when GET <url> answers with an ok, healthy or degraded status.

Used by docker-compose.yml for every Titan service (stdlib only, so it runs in any image
with Python). `degraded` counts as healthy: the service runs and says why it degrades.
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request

ALIVE = {"ok", "healthy", "degraded"}


def status_of(url: str) -> str:
    """The `status` field of the health answer; a 503 still carries the service's verdict."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - a fixed local URL
            raw = response.read()
    except urllib.error.HTTPError as exc:
        raw = exc.read()
    try:
        return str(json.loads(raw or b"{}").get("status", "unknown"))
    except (ValueError, AttributeError):
        return "unreadable"


def main(url: str) -> int:
    try:
        status = status_of(url)
    except (urllib.error.URLError, OSError) as exc:
        print(f"down: {url}: {exc}")
        return 1
    print(f"{status}: {url}")
    return 0 if status in ALIVE else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:3002/health"))
