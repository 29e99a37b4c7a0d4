"""Build a realistic network for benchmarks into an empty database.

    manage.py bench_data --size small|medium|large [--seed N] [--tokens-file PATH]

small is 1,000 accounts and 10,000 posts, medium 10,000 and 100,000, large 100,000 and
1,000,000. See plaza/operations/benchdata.py for the shape of the network.
"""

import argparse
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor

from plaza.operations import benchdata


class Command(BaseCommand):
    help = (
        "Fill an empty database with a realistic network for benchmarks (small: 1,000 users "
        "and 10,000 posts, medium: 10,000 and 100,000, large: 100,000 and 1,000,000), and "
        "write API tokens for sample users to a JSON file."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--size", choices=sorted(benchdata.SIZES), default="small")
        parser.add_argument(
            "--seed",
            type=int,
            default=1,
            help="Random seed: the same seed builds the same network.",
        )
        parser.add_argument(
            "--tokens-file",
            type=Path,
            help="Where to write the tokens (default: .tmp/bench/<size>-tokens.json).",
        )
        # Other sizes, for tests and experiments.
        parser.add_argument("--users", type=int, help=argparse.SUPPRESS)
        parser.add_argument("--posts", type=int, help=argparse.SUPPRESS)
        # Make the rows in this process rather than a forked one (for debugging, profiling).
        parser.add_argument("--single-process", action="store_true", help=argparse.SUPPRESS)
        # Accepted only to explain why it cannot exist.
        parser.add_argument("--force", action="store_true", help=argparse.SUPPRESS)

    def handle(self, *args: Any, **options: Any) -> None:
        size_name: str = options["size"]
        size = benchdata.SIZES[size_name]
        users = options["users"] if options["users"] is not None else size.users
        posts = options["posts"] if options["posts"] is not None else size.posts
        if options["users"] is not None or options["posts"] is not None:
            size_name = "custom"
        if users < 2 or posts < 0:
            raise CommandError("--users must be at least 2 and --posts at least 0.")
        tokens_file: Path = options["tokens_file"] or (
            Path(settings.BASE_DIR) / ".tmp" / "bench" / f"{size_name}-tokens.json"
        )
        executor = MigrationExecutor(connection)
        if executor.migration_plan(executor.loader.graph.leaf_nodes()):
            raise CommandError(
                "The database is not migrated to the current schema: run `manage.py migrate` first."
            )
        try:
            benchdata.ensure_empty()
        except benchdata.DatabaseNotEmpty as exc:
            advice = (
                "--force cannot help: bench_data computes every counter and notification from "
                "the rows it writes itself, so it never adds to an existing network. "
                if options["force"]
                else ""
            )
            raise CommandError(
                f"{exc} bench_data needs an empty database. {advice}Point DATABASE_URL at a "
                "fresh one and migrate it first, for example:\n"
                "  export DATABASE_URL=sqlite:////tmp/bench-medium.sqlite3\n"
                "  manage.py migrate && manage.py bench_data --size medium"
            ) from exc
        self.stdout.write(
            f"Building a {size_name} network ({users:,} users, {posts:,} posts) into "
            f"{connection.vendor} database {connection.settings_dict['NAME']}"
        )
        # Progress lines are rewritten in place: no added newline, no error colour.
        self.stderr.ending = ""
        self.stderr.style_func = None
        started = time.monotonic()
        try:
            result = benchdata.generate(
                users=users,
                posts=posts,
                seed=options["seed"],
                size_name=size_name,
                tokens_file=tokens_file,
                progress_stream=self.stderr,
                parallel=not options["single_process"],
            )
        except DatabaseError as exc:
            raise CommandError(
                f"The database refused a write: {exc}. {benchdata.failure_advice()}"
            ) from exc
        except benchdata.OutOfDate as exc:
            raise CommandError(str(exc)) from exc
        except RuntimeError as exc:  # the process making the rows failed
            raise CommandError(f"{exc}\n{benchdata.failure_advice()}") from exc
        except KeyboardInterrupt:
            self.stderr.write("\n")
            raise CommandError(f"Interrupted. {benchdata.failure_advice()}") from None
        for line in benchdata.describe(result):
            self.stdout.write(line)
        self.stdout.write(
            f"Tokens for {benchdata.VIEWER_USERNAME} and {len(result.tokens['users'])} sample "
            f"users: {tokens_file}"
        )
        self.stdout.write(f"Every account's password is {benchdata.BENCH_PASSWORD!r}.")
        self.stdout.write(self.style.SUCCESS(f"Done in {time.monotonic() - started:.1f} s."))
