"""Plaza's load benchmark: `make bench` and `make bench-data` call this (see bench/README.md).

    python bench/run.py data --size small --db sqlite      build .tmp/bench/small.sqlite3
    python bench/run.py run --size small --db sqlite       benchmark it (building it if missing)
    python bench/run.py run --size small --db postgres     throwaway cluster: build, bench, stop

A run starts Plaza the way production does (DEBUG off, SECRET_KEY from .env, several worker
processes on loopback), in each server layout in turn, and drives every endpoint with wrk for a
fixed time. Before the load, the SQL queries of one request to each endpoint are counted
in-process (Django's test client under CaptureQueriesContext, same headers, same database).
Results: a table on stdout and bench/results/<timestamp>-<size>-<db>.{json,md}.

The parts: probe.py (endpoints, the in-process SQL probe), processes.py (servers, databases,
Redis, the worker), load.py (wrk), fanout.py (`run.py fanout`), report.py (tables and files),
common.py (shared paths and limits). Only the `probe` and `fanout-probe` subcommands, run in
child processes, import Django.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import sqlite3
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

# Run as a script, bench/ is on the path already; imported by path (tests), it is not.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    DATABASES,
    FIRST_PORT,
    ROOT,
    SERVERS,
    SIZES,
    VENV_BIN,
    WORK_DIR,
    WORKER_POOLS,
    BenchError,
    rel,
    say,
)
from fanout import fanout_benchmark, fanout_probe_main
from load import benchmark
from probe import ENDPOINT_KEYS, probe_main
from processes import RATE_LIMITS as RATE_LIMITS  # tests/test_throttling.py reads it here
from processes import base_env, generate, postgres_cluster, remove_sqlite, run_checked, sqlite_paths


def check_env_file() -> None:
    if not (ROOT / ".env").exists() and not os.environ.get("SECRET_KEY"):
        raise BenchError("no .env with a SECRET_KEY: run `make .env` first.")


def command_data(args: argparse.Namespace) -> None:
    check_env_file()
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    if args.database_url:
        generate(
            args.size,
            args.database_url,
            WORK_DIR / f"{args.size}-external-tokens.json",
            args.env,
            args.data_command,
        )
    elif args.db == "sqlite":
        database, tokens = sqlite_paths(args.size)
        build_sqlite(args, database, tokens)
    else:
        with postgres_cluster() as database_url:
            generate(
                args.size,
                database_url,
                WORK_DIR / f"{args.size}-postgres-tokens.json",
                args.env,
                args.data_command,
            )
        say(
            "The cluster and its data are gone: `make bench DB=postgres` builds its own "
            "inside the run."
        )


def build_sqlite(args: argparse.Namespace, database: Path, tokens: Path) -> None:
    tokens.unlink(missing_ok=True)  # its absence marks the database as not ready
    remove_sqlite(database)
    try:
        generate(args.size, f"sqlite:///{database}", tokens, args.env, args.data_command)
        # Fold the write-ahead log into the file, so the file alone is the database.
        with contextlib.closing(sqlite3.connect(database)) as db:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    except BaseException:
        tokens.unlink(missing_ok=True)
        remove_sqlite(database)
        raise
    say(f"SQLite database: {rel(database)}")


def command_run(args: argparse.Namespace) -> None:
    if shutil.which("wrk") is None:
        raise BenchError("wrk is not installed. Install it with: apt-get install wrk")
    check_env_file()
    servers = [name.strip() for name in args.servers.split(",") if name.strip()]
    for name in servers:
        if name not in SERVERS:
            raise BenchError(f"unknown server {name!r}; choose from {', '.join(SERVERS)}.")
        if not (VENV_BIN / name).exists():
            if args.servers_explicit:
                raise BenchError(f"{name} is not installed in {VENV_BIN}.")
            say(f"Skipping the {name} layout: {name} is not installed in the virtualenv.")
    servers = [name for name in servers if (VENV_BIN / name).exists()]
    if not servers:
        raise BenchError("no server layout to run.")
    with prepared_database(args) as (database_url, tokens):
        benchmark(args, database_url, tokens, servers)


@contextlib.contextmanager
def prepared_database(args: argparse.Namespace) -> Iterator[tuple[str, Path]]:
    """The data set to benchmark, as (DATABASE_URL, tokens file): the kept SQLite file (built
    if missing), a throwaway PostgreSQL cluster filled for this run, or --database-url."""
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    if args.database_url:
        yield args.database_url, Path(args.tokens or WORK_DIR / f"{args.size}-tokens.json")
    elif args.db == "sqlite":
        database, tokens = sqlite_paths(args.size)
        if database.exists() and tokens.exists():
            say(f"Using {rel(database)} (`make bench-data` rebuilds it)")
            # Kept from an earlier checkout: bring its schema up to this one's.
            python = str(VENV_BIN / "python")
            migrate = [python, "manage.py", "migrate", "--noinput", "--verbosity", "0"]
            run_checked(migrate, base_env(f"sqlite:///{database}", args.env), "migrate")
        else:
            build_sqlite(args, database, tokens)
        yield f"sqlite:///{database}", tokens
    else:
        with postgres_cluster() as database_url:
            tokens = WORK_DIR / f"{args.size}-postgres-tokens.json"
            generate(args.size, database_url, tokens, args.env, args.data_command)
            yield database_url, tokens


def command_fanout(args: argparse.Namespace) -> None:
    check_env_file()
    if not (VENV_BIN / args.server).exists():
        raise BenchError(f"{args.server} is not installed in {VENV_BIN}.")
    with prepared_database(args) as (database_url, tokens):
        fanout_benchmark(args, database_url, tokens)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    commands = parser.add_subparsers(dest="command", required=True)

    def common(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--size", choices=SIZES, default="medium")
        sub.add_argument("--db", choices=DATABASES, default="sqlite")
        sub.add_argument(
            "--database-url",
            default="",
            help="use this database instead of a SQLite file or a throwaway cluster "
            "(`data` fills it; `run` expects it filled, with --tokens)",
        )
        sub.add_argument(
            "--env",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help="extra environment for the server and manage.py (repeatable), "
            "e.g. CONN_MAX_AGE=60",
        )
        sub.add_argument(
            "--data-command",
            default="",
            help="generator command instead of `manage.py bench_data --size SIZE`; it must "
            "write .tmp/bench/SIZE-tokens.json",
        )

    data = commands.add_parser("data", help="migrate a fresh database and generate the data")
    common(data)
    run = commands.add_parser("run", help="benchmark (generating the data if needed)")
    common(run)
    run.add_argument("--tokens", default="", help="tokens file (with --database-url)")
    run.add_argument("--duration", type=int, default=10, help="seconds per endpoint")
    run.add_argument("--connections", type=int, default=16)
    run.add_argument("--threads", type=int, default=2, help="wrk threads")
    run.add_argument("--workers", type=int, default=2, help="server worker processes")
    run.add_argument("--warmup", type=int, default=2, help="seconds of warm-up per layout")
    run.add_argument(
        "--servers",
        default="",
        help=f"comma-separated layouts out of {', '.join(SERVERS)} "
        "(default: all that are installed)",
    )
    run.add_argument(
        "--endpoints",
        default="all",
        help=f"comma-separated subset of {', '.join(ENDPOINT_KEYS)} (health always runs)",
    )
    run.add_argument("--port", type=int, default=FIRST_PORT, help="first port to try")
    run.add_argument(
        "--redis",
        action="store_true",
        help="the distributed mode: a throwaway redis-server (REDIS_URL) and one Celery worker",
    )

    def worker_options(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--worker-pool", choices=WORKER_POOLS, default="solo")

    worker_options(run)
    run.add_argument("--worker-concurrency", type=int, default=1)
    fanout = commands.add_parser(
        "fanout",
        help="distributed mode: time a celebrity's post and ordinary posts into followers' "
        "Redis timelines, with one Celery worker",
    )
    common(fanout)
    fanout.add_argument("--tokens", default="", help="tokens file (with --database-url)")
    fanout.add_argument("--server", choices=SERVERS, default="uvicorn")
    fanout.add_argument("--workers", type=int, default=2, help="server worker processes")
    worker_options(fanout)
    fanout.add_argument("--port", type=int, default=FIRST_PORT, help="first port to try")
    fanout.add_argument(
        "--max-followers",
        type=int,
        default=10_000_000,
        help="FEED_FANOUT_MAX_FOLLOWERS for the run: above the celebrity's audience, so the "
        "celebrity's posts are fanned out",
    )
    fanout.add_argument("--celebrity-posts", type=int, default=3, help="posts by the celebrity")
    fanout.add_argument(
        "--celebrity",
        default="",
        help="the account whose posts are timed (one of the tokens file's celebrities; "
        "default: the most followed of them)",
    )
    fanout.add_argument("--authors", type=int, default=50, help="ordinary accounts that post")
    fanout.add_argument("--rate", type=float, default=5.0, help="ordinary posts per second")
    fanout.add_argument(
        "--post-duration", type=float, default=20.0, help="seconds of ordinary posting"
    )
    fanout.add_argument(
        "--read-connections",
        type=int,
        default=0,
        help="also load GET /api/feed/ with wrk on this many connections while ordinary "
        "accounts post (0: no read load)",
    )
    for name in ("probe", "fanout-probe"):
        hidden = commands.add_parser(name, help=argparse.SUPPRESS)
        hidden.add_argument("spec", type=Path)
    args = parser.parse_args(argv)
    if args.command == "run":
        args.servers_explicit = bool(args.servers)
        args.servers = args.servers or ",".join(SERVERS)
    if args.command in ("run", "fanout") and args.port <= 8100:
        parser.error("--port must be above 8100")
    return args


def run_until_done(command: Callable[[argparse.Namespace], None], args: argparse.Namespace) -> int:
    """Run a benchmark command as the process's work: SIGTERM, SIGHUP and Ctrl-C unwind
    through its cleanups (servers, clusters stopped), and errors end in one line, not a
    traceback. Returns the exit status."""

    def terminate(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)  # unwinds through the cleanups

    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGHUP, terminate)
    try:
        command(args)
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bench: interrupted; servers stopped.", file=sys.stderr)
        return 130
    return 0


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.command == "probe":
        probe_main(args.spec)
        return 0
    if args.command == "fanout-probe":
        fanout_probe_main(args.spec)
        return 0
    commands = {"data": command_data, "fanout": command_fanout, "run": command_run}
    return run_until_done(commands[args.command], args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
