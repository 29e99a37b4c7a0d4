"""Following, follow requests, blocking and muting: the rows, both users' counters and the
notification, in one transaction.

Whether a follow may exist between two people depends on blocks: a block removes the follows
(and follow requests) between the pair, either way, and none can be made while it stands.
Every write that creates or removes a follow, a follow request or a block between two people
therefore first takes the pair's lock (`_lock_pair`). Those writes then run one after the
other for a given pair, and each reads, after taking the lock, what the previous one
committed: a follow racing a block either lands first and is removed by the block, or sees
the block and is refused; of an accept, a rejection and a withdrawal of the same request,
exactly one finds it.

Whether a follow needs approval depends on the followee's privacy, which has a lock of its
own (`_lock_privacy`): shared by follows, exclusive while the setting changes. A transaction
that takes both takes the privacy lock first, so no two wait for each other.
"""

import hashlib
from collections import Counter, defaultdict

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q, QuerySet
from django.http import Http404

from plaza.accounts.models import User
from plaza.core.db import get_or_create_unique
from plaza.core.exceptions import InvalidInput, NotPermitted
from plaza.core.tasks import queue_after_commit
from plaza.feed import services as feed_services
from plaza.graph.models import Block, Follow, FollowRequest, Mute
from plaza.notifications.models import NotificationKind
from plaza.notifications.services import notification_create

# Transaction-scoped advisory locks: released at commit or rollback, held by nothing else.
# Locking the users' rows instead would also serialize these writes, but would take row
# locks in an order of their own next to other writes that lock users (deleting an account
# locks its row, then updates the counters of everyone it follows and who follows it): two
# such transactions could wait for each other, a deadlock. SQLite needs none of them: its
# write transactions run one at a time (BEGIN IMMEDIATE, see config/settings.py).
_LOCK_BY_VENDOR = {"postgresql": "SELECT pg_advisory_xact_lock(%s)"}
_SHARED_LOCK_BY_VENDOR = {"postgresql": "SELECT pg_advisory_xact_lock_shared(%s)"}


def _lock_key(name: str) -> int:
    """One signed 64-bit advisory lock key per name, the same in every process."""
    digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _take_lock(key: int, *, exclusive: bool = True) -> None:
    sql = (_LOCK_BY_VENDOR if exclusive else _SHARED_LOCK_BY_VENDOR).get(connection.vendor)
    if sql is not None:
        with connection.cursor() as cursor:
            cursor.execute(sql, [key])


def _lock_pair(first_id: int, second_id: int) -> None:
    """Hold the lock of this unordered pair of accounts until the transaction ends."""
    low, high = sorted((first_id, second_id))
    _take_lock(_lock_key(f"graph-pair:{low}:{high}"))


def _lock_privacy(user_id: int, *, exclusive: bool) -> None:
    """Hold the lock of this account's privacy setting until the transaction ends: shared
    to follow it, exclusive to change it."""
    _take_lock(_lock_key(f"graph-privacy:{user_id}"), exclusive=exclusive)


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


def _start_following(*, follower: User, followee: User) -> Follow:
    """Insert the follow with both counters and the followee's notification. Called under
    the pair's lock, when no follow of the pair exists."""
    follow = Follow.objects.create(follower=follower, followee=followee)
    _apply_counters(
        {follower.pk: Counter(following_count=1), followee.pk: Counter(followers_count=1)}
    )
    notification_create(
        recipient_id=followee.pk, actor=follower, kind=NotificationKind.FOLLOW, target=follow
    )
    feed_services.following_changed(follower.pk)
    return follow


def follow_create(*, follower: User, followee: User) -> tuple[Follow | FollowRequest, bool]:
    """Make `follower` follow `followee`, or, if `followee` is private, ask to. Returns the
    follow or the request, and whether it is new: following someone already followed, or
    asking again, changes nothing. Refused while either blocks the other.

    Whether the account is private is read after taking its privacy lock (shared), so a
    change of that setting (`privacy_set`, exclusive) is never half-seen: a follow is never
    made without approval once the account went private, and a request never waits on an
    account that went public (those it accepts all of, see `privacy_set`)."""
    if follower.pk == followee.pk:
        raise InvalidInput("You cannot follow yourself.", code="cannot_follow_self")
    try:
        with transaction.atomic():
            _lock_privacy(followee.pk, exclusive=False)
            _lock_pair(follower.pk, followee.pk)
            _refuse_if_blocked(follower=follower, followee=followee)
            follow = Follow.objects.filter(follower=follower, followee=followee).first()
            if follow is not None:
                return follow, False
            is_private = (
                User.objects.filter(pk=followee.pk, is_active=True)
                .values_list("is_private", flat=True)
                .first()
            )
            if is_private is None:
                raise InvalidInput("This account no longer exists.", code="gone")
            if not is_private:
                # A request left from while the account was private (its acceptance with the
                # others not yet run, or lost with a broker that was down) ends here.
                _remove_requests_between(follower.pk, followee.pk, both_ways=False)
                return _start_following(follower=follower, followee=followee), True
            request, created = FollowRequest.objects.get_or_create(
                requester=follower, target=followee
            )
            if created:
                notification_create(
                    recipient_id=followee.pk,
                    actor=follower,
                    kind=NotificationKind.FOLLOW_REQUEST,
                    target=request,
                )
            return request, created
    except IntegrityError as exc:  # the followee was deleted while we were writing
        raise InvalidInput("This account no longer exists.", code="gone") from exc


def follow_delete(*, follower: User, followee: User) -> bool:
    """Stop following, or withdraw the request to. Returns whether there was either."""
    with transaction.atomic():
        _lock_pair(follower.pk, followee.pk)
        counters = _remove_follows_between(follower.pk, followee.pk, both_ways=False)
        _apply_counters(counters)
        withdrawn = _remove_requests_between(follower.pk, followee.pk, both_ways=False)
        return bool(counters) or withdrawn


def follower_remove(*, user: User, follower: User) -> bool:
    """`user` stops `follower` from following them (without blocking): how a private account
    takes back its posts from someone it had accepted. Returns whether they were following."""
    return follow_delete(follower=follower, followee=user)


def follow_request_accept(
    *, user: User, request_id: int, only_while_public: bool = False
) -> Follow:
    """`user` accepts the follow request `request_id` made to them: the request (and its
    notification) becomes a follow, with counters and the follow's notification. 404 if
    there is no such request to `user`, also when a racing accept, rejection or withdrawal
    took it first: under the pair's lock, exactly one of them finds the row to delete.

    `only_while_public`: for the acceptance that follows going public (`privacy_set`), which
    the owner did not decide request by request; 404 too if the account is private again,
    read under its privacy lock, so that a switch back cannot slip in between."""
    request = (
        FollowRequest.objects.select_related("requester").filter(pk=request_id, target=user).first()
    )
    if request is None:
        raise Http404("No such follow request.")
    requester = request.requester
    try:
        with transaction.atomic():
            if only_while_public:
                _lock_privacy(user.pk, exclusive=False)
                if not User.objects.filter(pk=user.pk, is_private=False).exists():
                    raise Http404("This account is private again: its owner answers.")
            _lock_pair(user.pk, requester.pk)
            if not _delete_requests(FollowRequest.objects.filter(pk=request_id, target=user)):
                raise Http404("No such follow request.")
            # No follow of the pair can stand beside the request: following ends a request
            # (`follow_create`), under this same lock.
            return _start_following(follower=requester, followee=user)
    except IntegrityError as exc:  # the requester deleted their account meanwhile
        raise Http404("No such follow request.") from exc


def follow_request_reject(*, user: User, request_id: int) -> None:
    """`user` turns down the follow request `request_id` made to them; the requester is not
    told. 404 if there is no such request to `user`."""
    with transaction.atomic():
        if not _delete_requests(FollowRequest.objects.filter(pk=request_id, target=user)):
            raise Http404("No such follow request.")


def privacy_set(*, user: User, is_private: bool) -> bool:
    """Make the account private or public, inside the caller's transaction; returns whether
    that changed anything. Going private keeps every follower; going public accepts every
    pending request once this commits (`accept_follow_requests`: a Celery worker's task in
    the distributed mode, run right after the request in the embedded one), as following a
    public account needs no approval. The exclusive privacy lock waits for follows in
    flight, which took it shared, and holds new ones until the commit: each sees the account
    as it is before or after. The current value is read under that lock, not taken from
    `user`, which may have been loaded before another change committed."""
    _lock_privacy(user.pk, exclusive=True)
    current = User.objects.filter(pk=user.pk).values_list("is_private", flat=True).first()
    user.is_private = is_private
    if current == is_private:
        return False
    User.objects.filter(pk=user.pk).update(is_private=is_private)
    if not is_private:
        # Imported here: the tasks module calls back into this one.
        from plaza.graph.tasks import accept_follow_requests

        queue_after_commit(accept_follow_requests, user.pk)
    return True


def follow_requests_accept_all(*, user_id: int) -> int:
    """Accept the pending requests to a public account, one transaction each, oldest first.
    Stops if the account went private again meanwhile (its owner then answers the rest).
    Returns how many were accepted."""
    accepted = 0
    # Listed first, not iterated: each accept deletes from the table being read, which a
    # cursor left open on SQLite would see half-done.
    pending = list(
        FollowRequest.objects.filter(target_id=user_id).order_by("id").values_list("pk", flat=True)
    )
    for request_id in pending:
        user = User.objects.filter(pk=user_id, is_active=True, is_private=False).first()
        if user is None:
            break
        try:
            follow_request_accept(user=user, request_id=request_id, only_while_public=True)
        except Http404:  # withdrawn or answered meanwhile, or the account is private again
            continue
        accepted += 1
    return accepted


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


def _delete_requests(requests: QuerySet[FollowRequest]) -> int:
    """Delete these follow requests with their notifications (through the GenericRelation);
    returns how many requests were deleted."""
    _total, per_model = requests.delete()
    return per_model.get(FollowRequest._meta.label, 0)


def _remove_requests_between(first_id: int, second_id: int, *, both_ways: bool) -> bool:
    """Delete the request of `first_id` to follow `second_id` (and back, if `both_ways`);
    returns whether there was one."""
    pair = Q(requester_id=first_id, target_id=second_id)
    if both_ways:
        pair |= Q(requester_id=second_id, target_id=first_id)
    return bool(_delete_requests(FollowRequest.objects.filter(pair)))


def block_create(*, blocker: User, blocked: User) -> tuple[Block, bool]:
    """Block an account. Returns the block and whether it is new; blocking again changes
    nothing. A new block removes the follows and follow requests between the two, either
    way, with their notifications and counters, in the same transaction."""
    if blocker.pk == blocked.pk:
        raise InvalidInput("You cannot block yourself.", code="cannot_block_self")

    def on_create(block: Block) -> None:
        counters = _remove_follows_between(blocker.pk, blocked.pk, both_ways=True)
        _remove_requests_between(blocker.pk, blocked.pk, both_ways=True)
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
