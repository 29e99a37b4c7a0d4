"""Reads about accounts."""

from dataclasses import dataclass

from django.db import connections
from django.db.models import Q, QuerySet, Value
from django.http import Http404

from plaza.accounts.models import AuthToken, User
from plaza.core.rawsql import ModelColumns, table
from plaza.graph.models import Block, Follow, FollowRequest, Mute

MAX_SEARCH_LENGTH = 100


_TOKEN_COLUMNS = ModelColumns(AuthToken, "t")
_TOKEN_USER_COLUMNS = ModelColumns(User, "u")
# As the ORM's select_related attaches the user (see plaza.posts.selectors._SET_AUTHOR).
_SET_TOKEN_USER = AuthToken._meta.get_field("user").set_cached_value


_AUTHENTICATION_SQL = f"""
    SELECT {{token_columns}}, {{user_columns}}
    FROM {table(AuthToken)} t INNER JOIN {table(User)} u ON u.id = t.user_id
    WHERE t.digest = %s
"""  # noqa: S608 - names from _meta


def token_by_digest(digest: str) -> AuthToken | None:
    """The token with this digest and its user, in one indexed query. Every authenticated
    request runs it, so it is SQL rather than ORM (see plaza.core.rawsql)."""
    sql = _AUTHENTICATION_SQL.format(
        token_columns=_TOKEN_COLUMNS.select_list, user_columns=_TOKEN_USER_COLUMNS.select_list
    )
    connection = connections["default"]
    with connection.cursor() as cursor:
        cursor.execute(sql, [digest])
        row = cursor.fetchone()
    if row is None:
        return None
    width = _TOKEN_COLUMNS.width
    token = _TOKEN_COLUMNS.load(row[:width], connection)
    _SET_TOKEN_USER(token, _TOKEN_USER_COLUMNS.load(row[width:], connection))
    return token


def token_by_id(token_id: int) -> AuthToken | None:
    """A token and its user, for a WebSocket opened with a ticket or re-checked by its
    heartbeat (rare next to `token_by_digest`, so the ORM)."""
    return AuthToken.objects.select_related("user").filter(pk=token_id).first()


def user_by_username(username: str) -> User:
    user = User.objects.with_username(username).filter(is_active=True).first()
    if user is None:
        raise Http404(f"No user named {username!r}.")
    return user


def user_search(*, query: str = "") -> QuerySet[User]:
    users = User.objects.filter(is_active=True)
    query = query.strip()[:MAX_SEARCH_LENGTH]
    if query:
        users = users.filter(Q(username__icontains=query) | Q(display_name__icontains=query))
    return users


@dataclass(frozen=True)
class Relationship:
    is_following: bool
    follows_you: bool
    follow_requested: bool = False
    is_blocking: bool = False
    blocks_you: bool = False
    is_muting: bool = False


_FOLLOWS, _REQUESTS, _BLOCKS, _MUTES = "follow", "request", "block", "mute"


def relationship_between(*, viewer: User, other: User) -> Relationship:
    """How the viewer and `other` stand: follows both ways, the viewer's follow request,
    blocks both ways, the viewer's mute. One query (index lookups joined by UNION ALL)."""
    if viewer.pk == other.pk:
        return Relationship(is_following=False, follows_you=False)
    both_ways = Q(follower=viewer, followee=other) | Q(follower=other, followee=viewer)
    follows = Follow.objects.filter(both_ways).annotate(kind=Value(_FOLLOWS))
    blocks = Block.objects.filter(
        Q(blocker=viewer, blocked=other) | Q(blocker=other, blocked=viewer)
    ).annotate(kind=Value(_BLOCKS))
    requests = FollowRequest.objects.filter(requester=viewer, target=other).annotate(
        kind=Value(_REQUESTS)
    )
    mutes = Mute.objects.filter(muter=viewer, muted=other).annotate(kind=Value(_MUTES))
    found = set(
        follows.values_list("kind", "follower_id").union(
            requests.values_list("kind", "requester_id"),
            blocks.values_list("kind", "blocker_id"),
            mutes.values_list("kind", "muter_id"),
            all=True,
        )
    )
    return Relationship(
        is_following=(_FOLLOWS, viewer.pk) in found,
        follows_you=(_FOLLOWS, other.pk) in found,
        follow_requested=(_REQUESTS, viewer.pk) in found,
        is_blocking=(_BLOCKS, viewer.pk) in found,
        blocks_you=(_BLOCKS, other.pk) in found,
        is_muting=(_MUTES, viewer.pk) in found,
    )
