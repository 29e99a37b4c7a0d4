"""Reads of tags: one by name, its history, the trending ones, those an account follows."""

from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import Count, QuerySet, Sum
from django.http import Http404
from django.utils import timezone

from plaza.accounts.models import User
from plaza.tags.models import Tag, TagFollow, TagUse
from plaza.tags.parsing import is_tag_name, tag_normal_form

HISTORY_DAYS = 7
TRENDS_MAX = 20


@dataclass(frozen=True)
class TagDay:
    day: date
    uses: int  # posts that used the tag that day
    accounts: int  # distinct accounts among their authors


def tag_by_name(name: str) -> Tag | None:
    """The tag `name` stands for (any case, composed or not), or None if no post has used it
    and nobody follows it yet; 404 if `name` could never be a tag."""
    if not is_tag_name(name):
        raise Http404("No such tag: a tag is letters, digits and underscores.")
    return Tag.objects.filter(name=tag_normal_form(name)).first()


def today() -> date:
    return timezone.now().date()


def _public_uses(tags: list[Tag], since: date) -> QuerySet[TagUse]:
    # Only public accounts' posts count, as only those are on a tag's page.
    return TagUse.objects.filter(tag__in=tags, day__gte=since, account__is_private=False)


def history_days(until: date | None = None) -> list[date]:
    """The days a tag's history covers, newest first."""
    until = until or today()
    return [until - timedelta(days=back) for back in range(HISTORY_DAYS)]


def tag_histories(tags: list[Tag], *, until: date | None = None) -> dict[int, list[TagDay]]:
    """Each tag's last HISTORY_DAYS days, newest first, zeros included: one query for all."""
    days = history_days(until)
    counts: dict[tuple[int, date], TagDay] = {}
    if tags:
        rows = (
            _public_uses(tags, days[-1])
            .values("tag_id", "day")
            .annotate(uses=Sum("posts"), accounts=Count("account_id"))
            .values_list("tag_id", "day", "uses", "accounts")
        )
        for tag_id, day, uses, accounts in rows:
            counts[tag_id, day] = TagDay(day, uses, accounts)
    return {tag.pk: [counts.get((tag.pk, day), TagDay(day, 0, 0)) for day in days] for tag in tags}


def trending_tags(*, limit: int = 10) -> list[Tag]:
    """The tags the most distinct public accounts used since yesterday began (UTC), most
    first. Reads the (day, tag) rows of two days, never the posts: one query."""
    since = today() - timedelta(days=1)
    trending = (
        Tag.objects.filter(uses__day__gte=since, uses__account__is_private=False)
        .annotate(accounts=Count("uses__account_id", distinct=True), posts=Sum("uses__posts"))
        .order_by("-accounts", "-posts", "id")
    )
    return list(trending[: min(limit, TRENDS_MAX)])


def followed_tag_ids(viewer: User | None, tags: list[Tag]) -> set[int] | None:
    """Which of `tags` the viewer follows (one query); None for an anonymous viewer."""
    if viewer is None:
        return None
    if not tags:
        return set()
    follows = TagFollow.objects.filter(user=viewer, tag__in=tags)
    return set(follows.values_list("tag_id", flat=True))


def tag_follows_of(user: User) -> QuerySet[TagFollow]:
    """The tags `user` follows, each joined, to be paged most recently followed first."""
    return TagFollow.objects.filter(user=user).select_related("tag")
