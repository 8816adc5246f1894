"""The embedded mode (`make demo`) runs on SQLite while the suite runs on PostgreSQL: every migration must
still apply there. (A review-queue index with NULLS LAST passed every PostgreSQL test and broke `make demo`.)"""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_migration_applies_on_the_embedded_modes_sqlite(tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "palimpsest.settings_dev",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'embedded.sqlite3'}",
    }
    done = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Applying requests_app.0015_review_queue_index... OK" in done.stdout
