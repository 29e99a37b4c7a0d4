from collections.abc import Sequence
from typing import Any, TypeVar

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import BooleanField, Expression, F, Q, QuerySet
from django.db.models.expressions import Combinable
from django.db.models.sql.compiler import SQLCompiler

from plaza.accounts.models import User
from plaza.core.rawsql import table
from plaza.graph.models import Block, Follow, FollowRequest, Mute

_QuerySetT = TypeVar("_QuerySetT", bound=QuerySet[Any, Any])


def followers_of(user: User) -> QuerySet[Follow]:
    """Follows whose followee is `user`, with each follower joined."""
    return Follow.objects.filter(followee=user).select_related("follower")


def following_of(user: User) -> QuerySet[Follow]:
    """Follows whose follower is `user`, with each followed account joined."""
    return Follow.objects.filter(follower=user).select_related("followee")


def follow_requests_to(user: User) -> QuerySet[FollowRequest]:
    """The requests waiting for `user`'s answer, each requester joined."""
    return FollowRequest.objects.filter(target=user).select_related("requester")


def blocks_by(user: User) -> QuerySet[Block]:
    """The accounts `user` blocks, each joined, to be paged newest block first."""
    return Block.objects.filter(blocker=user).select_related("blocked")


def mutes_by(user: User) -> QuerySet[Mute]:
    """The accounts `user` mutes, each joined, to be paged newest mute first."""
    return Mute.objects.filter(muter=user).select_related("muted")


# The accounts whose posts, comments and notifications a viewer does not see: those the
# viewer mutes, those the viewer blocks, and those who block the viewer. Each branch is one
# range of an index (the mute and block pairs, `block_blocked_idx`), empty for most viewers.
# Parameters: the viewer's id, three times. Used as SQL by the feed (see plaza.core.rawsql)
# and through `without_hidden` by the ORM lists.
HIDDEN_USER_IDS_SQL = (
    f"SELECT hm.muted_id FROM {table(Mute)} hm WHERE hm.muter_id = %s"  # noqa: S608 - names from _meta
    f" UNION ALL SELECT hb.blocked_id FROM {table(Block)} hb WHERE hb.blocker_id = %s"
    f" UNION ALL SELECT hr.blocker_id FROM {table(Block)} hr WHERE hr.blocked_id = %s"
)
_NOT_HIDDEN = "{column} NOT IN (" + HIDDEN_USER_IDS_SQL + ")"
# Those who block the viewer. Parameter: the viewer's id.
_NOT_BLOCKING = (
    f"{{column}} NOT IN (SELECT br.blocker_id FROM {table(Block)} br WHERE br.blocked_id = %s)"  # noqa: S608 - names from _meta
)
# Those the viewer follows. Parameter: the viewer's id.
_FOLLOWED = (
    f"{{column}} IN (SELECT vf.followee_id FROM {table(Follow)} vf WHERE vf.follower_id = %s)"  # noqa: S608 - names from _meta
)


class _AccountCondition(Expression):
    """A WHERE condition: the account in `column` is (or is not) in a fixed subquery about
    one viewer. Written as SQL rather than as a union of querysets: the ORM takes about 1 ms
    to compile that union on every request, this under 0.1 ms, for the same statement."""

    conditional = True
    output_field = BooleanField()

    def __init__(self, template: str, column: str, viewer_id: int, repeat: int) -> None:
        super().__init__()
        self.template = template
        self.column: Any = F(column)
        self.viewer_id = viewer_id
        self.repeat = repeat

    def get_source_expressions(self) -> list[Any]:
        return [self.column]

    def set_source_expressions(self, exprs: Sequence[Combinable | Expression]) -> None:
        (self.column,) = exprs

    def as_sql(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper
    ) -> tuple[str, list[Any]]:
        column_sql, params = compiler.compile(self.column)
        return self.template.format(column=column_sql), [
            *params,
            *[self.viewer_id] * self.repeat,
        ]


def without_hidden(queryset: _QuerySetT, viewer: User | None, column: str) -> _QuerySetT:
    """`queryset` less the rows whose account in `column` (an author, an actor) `viewer` does
    not see: muted or blocked by the viewer, or blocking them. Filtered inside the statement
    that reads the page, so it costs no query of its own; and not at all for anonymous
    readers and for viewers who mute and block nobody and whom nobody blocks (their counters,
    loaded with the token, say so), most of them."""
    if viewer is None or not viewer.hides_anyone:
        return queryset
    return queryset.filter(_AccountCondition(_NOT_HIDDEN, column, viewer.pk, 3))


def without_blockers(queryset: _QuerySetT, viewer: User | None, *columns: str) -> _QuerySetT:
    """`queryset` less the rows whose account in any of `columns` blocks `viewer` (to whom
    their posts do not exist, even by id). Free when nobody blocks the viewer."""
    if viewer is None or not viewer.blocked_by_count:
        return queryset
    return queryset.filter(
        *(_AccountCondition(_NOT_BLOCKING, column, viewer.pk, 1) for column in columns)
    )


def accounts_shunning(author: User, account_ids: list[int]) -> set[int]:
    """Which of `account_ids` want nothing from `author` (those who block or mute the author)
    or get nothing from them (those the author blocks): one query."""
    if not account_ids:
        return set()
    blockers = Block.objects.filter(blocked=author, blocker_id__in=account_ids)
    blocked = Block.objects.filter(blocker=author, blocked_id__in=account_ids)
    muters = Mute.objects.filter(muted=author, muter_id__in=account_ids)
    shunning = blockers.values_list("blocker_id").union(
        blocked.values_list("blocked_id"), muters.values_list("muter_id"), all=True
    )
    return {account_id for (account_id,) in shunning}


def can_see_content_of(viewer: User | None, owner: User) -> bool:
    """Whether `viewer` may see the posts and the lists of follows of `owner`: anyone may
    see a public account's; a private account's, only the owner and their followers."""
    if not owner.is_private or (viewer is not None and viewer.pk == owner.pk):
        return True
    return viewer is not None and Follow.objects.filter(follower=viewer, followee=owner).exists()


def followed_by(viewer: User, column: str) -> Q:
    """A condition: the account in `column` is one `viewer` follows. Inside the statement
    that reads the rows: no query of its own."""
    return Q(_AccountCondition(_FOLLOWED, column, viewer.pk, 1))
