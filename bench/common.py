"""Paths, limits and targets every part of the benchmark shares, and its few small helpers."""

from __future__ import annotations

import contextlib
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUN_PY = ROOT / "bench" / "run.py"  # the entry point; its hidden subcommands run the probes
LUA_DIR = ROOT / "bench" / "lua"
RESULTS_DIR = ROOT / "bench" / "results"
WORK_DIR = ROOT / ".tmp" / "bench"
VENV_BIN = Path(sys.prefix) / "bin"
POSTGRES_SH = ROOT / "scripts" / "postgres.sh"

SIZES = ("small", "medium", "large")
DATABASES = ("sqlite", "postgres")
SERVERS = ("uvicorn", "gunicorn")
DEEP_PAGES = 50
FIRST_PORT = 8101  # loopback ports below this belong to others on shared machines
HEALTH_TIMEOUT_S = 60.0
DRAIN_TIMEOUT_S = 300.0  # the longest wait for the worker to run the fan-out left queued
RSS_SAMPLE_INTERVAL_S = 0.25
PROBE_MARKER = "PLAZA_PROBE_RESULT "
FANOUT_MARKER = "PLAZA_FANOUT_RESULT "
CELERY_QUEUE = "celery"  # Celery's default queue: a Redis list of that name
CELERY_UNACKED = "unacked"  # kombu's Redis hash of delivered, unacknowledged messages
WORKER_POOLS = ("prefork", "solo")
WRK_MARKER = "PLAZA_WRK_RESULT "

# Targets from the issue, checked in every report.
TARGET_SINGLE_CLIENT_P99_MS = 50.0
TARGET_FEED_RATIO = 0.30
TARGET_DEEP_VS_FIRST = 0.80
TARGET_RSS_MB = 300.0
TARGET_FANOUT_S = 10.0  # a post by an account with 50,000 followers, one worker
TARGET_VISIBILITY_MS = 2000.0  # p99 from an ordinary account's post to its followers' feeds
FANOUT_TIMEOUT_S = 120.0  # a post not in a timeline by then counts as never delivered


class BenchError(Exception):
    """A problem the user can fix; printed without a traceback."""


def say(message: str) -> None:
    print(message, flush=True)


def rel(path: Path) -> str:
    with contextlib.suppress(ValueError):
        return str(path.relative_to(ROOT))
    return str(path)


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (share in 0..1) of a non-empty list."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))]
