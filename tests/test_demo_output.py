"""`make demo` in the embedded default: `seed_demo` says what it loaded and nothing else.

It runs in a process of its own, on a fresh SQLite file, as `make demo` runs it: Celery's
producer pool and kombu's connection are made once per process, so a warning they log at
their first use would not show in a test process that had already queued a task.
"""

import subprocess
import sys
from pathlib import Path

from tests.servers import PROJECT_ROOT, migrate, server_environment


def test_seed_demo_prints_no_warning_about_a_broker_the_embedded_default_does_not_use(
    tmp_path: Path,
) -> None:
    environment = server_environment(
        DATABASE_URL=f"sqlite:///{tmp_path / 'demo.sqlite3'}",
        # The embedded default, whatever the environment running the suite says.
        REDIS_URL="",
        CACHE_URL="",
        CELERY_TASK_ALWAYS_EAGER="",
        LOG_LEVEL="INFO",
        # Python's warnings too (DeprecationWarning and the like), not only logged ones.
        PYTHONWARNINGS="default",
    )
    migrate(environment)

    seeded = subprocess.run(
        [sys.executable, "manage.py", "seed_demo"],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )

    output = seeded.stdout + seeded.stderr
    assert "Demo network loaded." in seeded.stdout
    noisy = [
        line
        for line in output.splitlines()
        if "WARNING" in line or "Warning" in line or "kombu" in line or "broker" in line.lower()
    ]
    assert noisy == [], output
