"""`python -m titan_worker worker|beat|health`: what PM2, systemd, compose and `titan up` run."""

from __future__ import annotations

import argparse
import signal
import sys
import time

import redis
from celery.signals import setup_logging as celery_setup_logging

from titan_common.live import LiveRefused, check_process
from titan_common.logging import setup_logging
from titan_common.settings import load_settings
from titan_worker.app import HEARTBEAT_KEY, QUEUE, create_app
from titan_worker.settings import WorkerSettings


def _logging(name: str, settings: WorkerSettings) -> None:
    secrets = [settings.internal_token.get_secret_value()]
    setup_logging(name, log_dir=settings.var_dir / "log", level=settings.log_level, secrets=secrets)

    # a receiver on this signal tells Celery to leave logging alone: ours redacts and rotates
    @celery_setup_logging.connect(weak=False)
    def _keep_ours(**_: object) -> None:
        return None


def run_worker(settings: WorkerSettings) -> None:
    from titan_worker.metrics import serve_metrics

    _logging("worker", settings)
    serve_metrics(settings.bind_address, settings.worker_metrics_port, settings.backups_path, settings.reports_path)
    app = create_app(settings)
    app.worker_main(
        [
            "worker",
            f"--loglevel={settings.log_level}",
            "--pool=threads",
            f"--concurrency={settings.worker_concurrency}",
            f"--queues={QUEUE}",
            "--hostname=titan-worker@%h",
            "--without-gossip",
            "--without-mingle",
        ]
    )


def run_beat(settings: WorkerSettings) -> None:
    _logging("beat", settings)
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    app = create_app(settings)
    # beat exits 0 on SIGTERM like the services, so supervisors tell a stop from a crash
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    app.start(["beat", f"--loglevel={settings.log_level}", f"--schedule={settings.var_dir / 'celerybeat-schedule'}"])


def health(settings: WorkerSettings, *, check_worker: bool, check_beat: bool, timeout_s: float) -> int:
    """Exit code 0 when the chosen parts answer; one line saying what is wrong otherwise."""
    problems = []
    if check_worker:
        replies = create_app(settings).control.ping(timeout=timeout_s)
        if not replies:
            problems.append(f"no worker answered a ping within {timeout_s:g}s")
    if check_beat:
        client = redis.Redis.from_url(settings.broker_url, socket_connect_timeout=3, socket_timeout=5)
        try:
            raw = client.get(HEARTBEAT_KEY)
        except redis.RedisError as exc:
            raw = None
            problems.append(f"broker unreachable: {type(exc).__name__}")
        finally:
            client.close()
        if raw is not None:
            age_s = time.time() - int(raw) / 1000
            if age_s > 3 * settings.worker_heartbeat_s:
                problems.append(f"beat's heartbeat task last ran {age_s:.0f}s ago")
        elif not problems:
            problems.append("beat's heartbeat task never ran (is beat running, and a worker?)")
    if problems:
        print("FAIL " + "; ".join(problems))
        return 1
    print("OK " + " and ".join(p for p, on in (("worker", check_worker), ("beat", check_beat)) if on))
    return 0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m titan_worker", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in (("worker", "run the Celery worker (threads pool)"), ("beat", "run Celery beat (the schedule)")):
        sub.add_parser(name, help=text).add_argument(
            "--live", action="store_true", help="required (or TITAN_LIVE=1), with var/LIVE.ok, for SYSTEM_MODE=LIVE"
        )
    check = sub.add_parser("health", help="exit 0 when a worker answers and beat's heartbeat is fresh")
    check.add_argument("--worker", action="store_true", help="only the worker")
    check.add_argument("--beat", action="store_true", help="only beat (through the heartbeat task)")
    check.add_argument("--timeout", type=float, default=5.0)
    args = parser.parse_args(argv)
    settings = load_settings(WorkerSettings)
    if args.command in ("worker", "beat"):
        try:
            check_process(args.command, settings, live_flag=args.live)
        except LiveRefused as exc:
            print(f"titan: {exc}", file=sys.stderr, flush=True)
            sys.exit(2)
    if args.command == "worker":
        run_worker(settings)
    elif args.command == "beat":
        run_beat(settings)
    else:
        both = not (args.worker or args.beat)
        sys.exit(
            health(settings, check_worker=args.worker or both, check_beat=args.beat or both, timeout_s=args.timeout)
        )
