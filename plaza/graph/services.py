"""Following, blocking and muting: the rows, both users' counters and the notification, in one
transaction.

Whether a follow may exist between two people depends on blocks: a block removes the follows
between the pair, either way, and no follow can be made while it stands. Every write that
creates or removes a follow or a block between two people therefore first takes the pair's
lock (`_lock_pair`). Those writes then run one after the other for a given pair, and each
reads, after taking the lock, what the previous one committed: a follow racing a block
either lands first and is removed by the block, or sees the block and is refused.
"""

import hashlib
from collections import Counter, defaultdict

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q

from plaza.accounts.models import User
from plaza.core.db import get_or_create_unique
from plaza.core.exceptions import InvalidInput, NotPermitted
from plaza.feed import services as feed_services
from plaza.graph.models import Block, Follow, Mute
from plaza.notifications.models import NotificationKind
from plaza.notifications.services import notification_create

# A transaction-scoped advisory lock: released at commit or rollback, held by nothing else.
# Locking the two users' rows instead would also serialize these writes, but would take
# row locks in an order of its own next to other writes that lock users (deleting an
# account locks its row, then updates the counters of everyone it follows and who follows
# it): two such transactions could wait for each other, a deadlock.
_PAIR_LOCK_BY_VENDOR = {"postgresql": "SELECT pg_advisory_xact_lock(%s)"}


def _pair_key(first_id: int, second_id: int) -> int:
    """One signed 64-bit key per unordered pair of accounts, the same in every process."""
    low, high = sorted((first_id, second_id))
    digest = hashlib.blake2b(f"graph-pair:{low}:{high}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _lock_pair(first_id: int, second_id: int) -> None:
    """Hold the pair's lock until the transaction ends. SQLite needs none: its write
    transactions run one at a time (BEGIN IMMEDIATE, see config/settings.py)."""
    sql = _PAIR_LOCK_BY_VENDOR.get(connection.vendor)
    if sql is not None:
        with connection.cursor() as cursor:
            cursor.execute(sql, [_pair_key(first_id, second_id)])


Counters = dict[int, Counter[str]]


def _apply_counters(counters: Counters) -> None:
    """Add each user's deltas to their counters: one UPDATE per user, in primary-key order,
    as every write that changes two users' counters does (no deadlock between them)."""
    for user_id in sorted(counters):
        changes = {name: F(name) + delta for name, delta in counters[user_id].items() if delta != 0}
        if changes:
            User.objects.filter(pk=user_id).update(**changes)


def _refuse_if_blocked(*, follower: User, followee: User) -> None:
    blockers = set(
        Block.objects.filter(
            Q(blocker=follower, blocked=followee) | Q(blocker=followee, blocked=follower)
        ).values_list("blocker_id", flat=True)
    )
    if followee.pk in blockers:
        raise NotPermitted("This account has blocked you.", code="blocked")
    if follower.pk in blockers:
        raise NotPermitted("You block this account: unblock it first.", code="blocking")


def follow_create(*, follower: User, followee: User) -> tuple[Follow, bool]:
    """Make `follower` follow `followee`. Returns the follow and whether it is new; following
    someone already followed changes nothing. Refused while either blocks the other."""
    if follower.pk == followee.pk:
        raise InvalidInput("You cannot follow yourself.", code="cannot_follow_self")

    def lock_and_check() -> None:
        _lock_pair(follower.pk, followee.pk)
        _refuse_if_blocked(follower=follower, followee=followee)

    def on_create(follow: Follow) -> None:
        _apply_counters(
            {
                follower.pk: Counter(following_count=1),
                followee.pk: Counter(followers_count=1),
            }
        )
        notification_create(
            recipient_id=followee.pk, actor=follower, kind=NotificationKind.FOLLOW, target=follow
        )
        feed_services.following_changed(follower.pk)

    try:
        return get_or_create_unique(
            Follow,
            on_create=on_create,
            still_possible=User.objects.filter(pk=followee.pk, is_active=True).exists,
            prepare=lock_and_check,
            follower=follower,
            followee=followee,
        )
    except IntegrityError as exc:  # the followee was deleted while we were writing
        raise InvalidInput("This account no longer exists.", code="gone") from exc


def follow_delete(*, follower: User, followee: User) -> bool:
    """Stop following. Returns whether there was a follow to remove."""
    with transaction.atomic():
        _lock_pair(follower.pk, followee.pk)
        counters = _remove_follows_between(follower.pk, followee.pk, both_ways=False)
        _apply_counters(counters)
        return bool(counters)


def _remove_follows_between(first_id: int, second_id: int, *, both_ways: bool) -> Counters:
    """Delete the follow of `first_id` to `second_id` (and back, if `both_ways`) with their
    notifications, and return the counter changes of exactly the follows deleted (empty if
    none was). Called under `_lock_pair`, so no follow of the pair appears or vanishes
    meanwhile."""
    pair = Q(follower_id=first_id, followee_id=second_id)
    if both_ways:
        pair |= Q(follower_id=second_id, followee_id=first_id)
    follows = list(Follow.objects.filter(pair).values_list("pk", "follower_id", "followee_id"))
    counters: Counters = defaultdict(Counter)
    if not follows:
        return counters
    # Deleting through the ORM also deletes each follow's notification (GenericRelation).
    Follow.objects.filter(pk__in=[pk for pk, _follower, _followee in follows]).delete()
    for _pk, follower_id, followee_id in follows:
        counters[follower_id]["following_count"] -= 1
        counters[followee_id]["followers_count"] -= 1
        feed_services.following_changed(follower_id)
    return counters


def block_create(*, blocker: User, blocked: User) -> tuple[Block, bool]:
    """Block an account. Returns the block and whether it is new; blocking again changes
    nothing. A new block removes the follows between the two, either way, with their
    notifications and counters, in the same transaction."""
    if blocker.pk == blocked.pk:
        raise InvalidInput("You cannot block yourself.", code="cannot_block_self")

    def on_create(block: Block) -> None:
        counters = _remove_follows_between(blocker.pk, blocked.pk, both_ways=True)
        counters[blocker.pk]["blocking_count"] += 1
        counters[blocked.pk]["blocked_by_count"] += 1
        _apply_counters(counters)

    try:
        return get_or_create_unique(
            Block,
            on_create=on_create,
            still_possible=User.objects.filter(pk=blocked.pk, is_active=True).exists,
            prepare=lambda: _lock_pair(blocker.pk, blocked.pk),
            blocker=blocker,
            blocked=blocked,
        )
    except IntegrityError as exc:  # the account was deleted while we were writing
        raise InvalidInput("This account no longer exists.", code="gone") from exc


def block_delete(*, blocker: User, blocked: User) -> bool:
    """Unblock. Returns whether there was a block to remove. Follows removed by the block
    are not restored."""
    with transaction.atomic():
        _total, per_model = Block.objects.filter(blocker=blocker, blocked=blocked).delete()
        removed = per_model.get(Block._meta.label, 0) > 0
        if removed:
            _apply_counters(
                {
                    blocker.pk: Counter(blocking_count=-1),
                    blocked.pk: Counter(blocked_by_count=-1),
                }
            )
    return removed


def mute_create(*, muter: User, muted: User) -> tuple[Mute, bool]:
    """Mute an account. Returns the mute and whether it is new. Follows stay; the muter's
    feed no longer shows the muted account's posts."""
    if muter.pk == muted.pk:
        raise InvalidInput("You cannot mute yourself.", code="cannot_mute_self")

    def on_create(mute: Mute) -> None:
        User.objects.filter(pk=muter.pk).update(muting_count=F("muting_count") + 1)
        feed_services.hidden_authors_changed(muter.pk)

    try:
        return get_or_create_unique(
            Mute,
            on_create=on_create,
            still_possible=User.objects.filter(pk=muted.pk, is_active=True).exists,
            muter=muter,
            muted=muted,
        )
    except IntegrityError as exc:  # the account was deleted while we were writing
        raise InvalidInput("This account no longer exists.", code="gone") from exc


def mute_delete(*, muter: User, muted: User) -> bool:
    """Unmute. Returns whether there was a mute to remove."""
    with transaction.atomic():
        _total, per_model = Mute.objects.filter(muter=muter, muted=muted).delete()
        removed = per_model.get(Mute._meta.label, 0) > 0
        if removed:
            User.objects.filter(pk=muter.pk).update(muting_count=F("muting_count") - 1)
            feed_services.hidden_authors_changed(muter.pk)
    return removed
