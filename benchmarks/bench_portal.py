"""The portal under load and under attack, on PostgreSQL and Redis with the production settings (DEBUG off):

1. submissions: gunicorn serves the public API; a second process on loopback keeps C clients posting
   forget requests for a bounded time. Submissions per second, p50/p99, and none lost (every 201 is in the
   database, every other answer a deliberate 4xx or 429). Baseline in the same run: /healthz (one SELECT)
   under the same clients, the ceiling of this stack on this machine.
2. the review queue (API with a token, page with a session) with few requests in the database, then with
   100 000 (generated in bulk, years of closed requests and a backlog of open ones): p50/p95 latency and
   the query count. Baseline: the same calls on the small database.
3. the hostile corpus (tests/security/hostile_corpus.py) through the API in this process: time and peak
   memory (tracemalloc) of each case; baseline: a well-formed request of 400 paragraphs.
4. every regex that reads submitted text, on adversarial strings against a plain text of the same length.

Writes docs/benchmarks/portal.md with the machine's load average beside each figure (it is shared).

    make bench-portal      # or, with DATABASE_URL, REDIS_URL and CELERY_BROKER_URL set:
    .venv/bin/python benchmarks/bench_portal.py [--requests 100000] [--seconds 20] [--clients 8]

It makes its own database next to DATABASE_URL's (name + "_portal_bench") and drops it at the end.
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "docs" / "benchmarks" / "portal.md"
sys.path.insert(0, str(ROOT))


def bench_environment(database_url: str, static_root: str) -> dict[str, str]:
    """The production settings with throwaway secrets; rate limits raised so the load measures the code."""
    return {
        "DJANGO_SETTINGS_MODULE": "palimpsest.settings",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "PALIMPSEST_PEPPER": secrets.token_urlsafe(32),
        "PALIMPSEST_AUDIT_KEY": secrets.token_urlsafe(32),
        "DATABASE_URL": database_url,
        "STATIC_ROOT": static_root,
        "PALIMPSEST_REQUIRE_TOTP": "false",
        "PALIMPSEST_RATE_LIMITS": "submit-ip=100000000/3600,submit-email=100000000/86400,confirm-ip=100000000/3600",
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "LOG_LEVEL": "ERROR",
    }


def make_database(url: str) -> str:
    """A fresh database next to the one the URL names; returns its URL."""
    import psycopg2

    parsed = urlparse(url)
    if parsed.scheme not in ("postgres", "postgresql"):
        raise SystemExit("bench_portal needs PostgreSQL: set DATABASE_URL (make bench-portal starts one).")
    name = f"{parsed.path.lstrip('/') or 'palimpsest'}_portal_bench"
    admin = psycopg2.connect(parsed._replace(path="/postgres").geturl())
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
        cursor.execute(f'CREATE DATABASE "{name}"')
    admin.close()
    return parsed._replace(path=f"/{name}").geturl()


def drop_database(url: str) -> None:
    import psycopg2

    parsed = urlparse(url)
    admin = psycopg2.connect(parsed._replace(path="/postgres").geturl())
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{parsed.path.lstrip("/")}" WITH (FORCE)')
    admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=100_000, help="requests in the large database")
    parser.add_argument("--small", type=int, default=1_000, help="requests in the small database")
    parser.add_argument("--seconds", type=float, default=20.0, help="duration of each load run")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients of the load generator")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--queue-calls", type=int, default=100, help="calls per queue measurement")
    args = parser.parse_args()

    database_url = make_database(os.environ.get("DATABASE_URL", ""))
    static_root = tempfile.mkdtemp(prefix="portal-bench-static-")
    env = bench_environment(database_url, static_root)
    os.environ.update(env)
    try:
        manage = [sys.executable, str(ROOT / "manage.py")]
        subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], check=True, env=os.environ)
        subprocess.run([*manage, "collectstatic", "--noinput", "-v", "0"], check=True, env=os.environ)
        # Django is set up only now, on the benchmark's own database and settings.
        import portal_load

        figures = portal_load.run_all(args, ROOT)
        REPORT.write_text(portal_load.report(figures, args), encoding="utf-8")
        print(f"wrote {REPORT.relative_to(ROOT)}")
    finally:
        drop_database(database_url)


if __name__ == "__main__":
    started = time.monotonic()
    main()
    print(f"done in {time.monotonic() - started:.0f} s")
