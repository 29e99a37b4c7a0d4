"""Recompute the denormalised counters from the rows they count.

The services keep counters exact as writes happen; this command is for after a crash, a
manual edit in the database or the admin's bulk deletion of users. It fixes only the rows that
are wrong, in batches, and says how many there were.
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import models, transaction
from django.db.models import Count, F, OuterRef, Subquery
from django.db.models.functions import Coalesce

from plaza.accounts.models import User
from plaza.graph.models import Block, Follow, Mute
from plaza.posts.models import Comment, Like, Post, Repost

BATCH_SIZE = 1000


def _count_of(model: type[models.Model], field: str) -> Coalesce:
    """SQL for the number of `model` rows whose `field` points at the outer row."""
    rows = (
        model._default_manager.filter(**{field: OuterRef("pk")})
        .order_by()
        .values(field)
        .annotate(total=Count("pk"))
        .values("total")
    )
    return Coalesce(Subquery(rows, output_field=models.IntegerField()), 0)


def _user_counters() -> dict[str, Coalesce]:
    return {
        "followers_count": _count_of(Follow, "followee"),
        "following_count": _count_of(Follow, "follower"),
        "posts_count": _count_of(Post, "author"),
        "muting_count": _count_of(Mute, "muter"),
        "blocking_count": _count_of(Block, "blocker"),
        "blocked_by_count": _count_of(Block, "blocked"),
    }


def _post_counters() -> dict[str, Coalesce]:
    return {
        "likes_count": _count_of(Like, "post"),
        "comments_count": _count_of(Comment, "post"),
        "reposts_count": _count_of(Repost, "post"),
    }


class Command(BaseCommand):
    help = "Verify, and unless --check is given repair, every denormalised counter."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--check",
            action="store_true",
            help="Only report wrong counters; exit with status 1 if there are any.",
        )

    def handle(self, *args: Any, check: bool = False, **options: Any) -> None:
        wrong_total = 0
        for model, counters in ((User, _user_counters()), (Post, _post_counters())):
            wrong_total += self._repair(model, counters, check=check)
        if check and wrong_total:
            raise CommandError(
                f"{wrong_total} rows have wrong counters. Run `manage.py repair_counters` "
                "to fix them."
            )
        if wrong_total:
            self.stdout.write(self.style.SUCCESS(f"Repaired the counters of {wrong_total} rows."))
        else:
            self.stdout.write(self.style.SUCCESS("All counters are correct."))

    def _repair(
        self, model: type[models.Model], counters: dict[str, Coalesce], *, check: bool
    ) -> int:
        name = model._meta.verbose_name_plural
        actual = {f"actual_{field}": expression for field, expression in counters.items()}
        matches_everywhere = {field: F(f"actual_{field}") for field in counters}
        wrong_ids = list(
            model._default_manager.annotate(**actual)
            .exclude(**matches_everywhere)
            .values_list("pk", flat=True)
        )
        if not wrong_ids:
            self.stdout.write(f"{name}: all counters correct")
            return 0
        verb = "wrong" if check else "repairing"
        self.stdout.write(f"{name}: {len(wrong_ids)} rows with wrong counters, {verb}")
        if check:
            return len(wrong_ids)
        for start in range(0, len(wrong_ids), BATCH_SIZE):
            batch = wrong_ids[start : start + BATCH_SIZE]
            with transaction.atomic():
                model._default_manager.filter(pk__in=batch).update(**counters)
            done = min(start + BATCH_SIZE, len(wrong_ids))
            self.stdout.write(f"  {done}/{len(wrong_ids)} {name} repaired")
        return len(wrong_ids)
