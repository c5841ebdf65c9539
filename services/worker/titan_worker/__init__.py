"""Titan worker: Celery worker and beat for the scheduled jobs.

Daily report (00:05 UTC), database backups with checksum, restore-verification and
7-daily/4-weekly retention, JSONL audit retention, and the breadth scanner's 15-minute
trigger. The job logic lives in plain modules (reports, backups, audit_retention,
scanner) so the `titan` CLI and the console call the very same functions.
"""
