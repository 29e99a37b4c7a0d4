"""Every write to tags and mentions: what a post's text links it to (its tags, the accounts
it mentions, and their notifications), and following tags."""

from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.functions import Lower
from django.http import Http404

from plaza.accounts.models import User
from plaza.core.db import get_or_create_unique
from plaza.core.exceptions import InvalidInput
from plaza.feed import services as feed_services
from plaza.graph.selectors import accounts_shunning
from plaza.notifications.models import NotificationKind
from plaza.notifications.services import notification_create
from plaza.posts.models import Post, Visibility
from plaza.tags.models import Mention, PostTag, Tag, TagFollow, TagUse
from plaza.tags.parsing import entities_of, parse_text, tag_normal_form

# Beyond these a post is refused (400), so that one post cannot notify a crowd or flood
# every tag page.
MENTIONS_PER_POST = 20
TAGS_PER_POST = 30


@dataclass(frozen=True)
class PostText:
    """A post's content as read: the entities clients render (stored on the post), the tags
    it uses and the local accounts it mentions, each once, in order of appearance."""

    entities: list[dict[str, Any]]
    tag_names: list[str]
    mentioned: list[User]


def text_read(content: str) -> PostText:
    """Find what `content` refers to and resolve its @mentions to local accounts (one query,
    and none without mentions). An @name that is no account here stays plain text. Refuses
    (400) more than MENTIONS_PER_POST distinct names or TAGS_PER_POST distinct tags."""
    spans = parse_text(content)
    names = list(dict.fromkeys(s.value.lower() for s in spans if s.kind == "mention"))
    tag_names = list(dict.fromkeys(s.value for s in spans if s.kind == "hashtag"))
    if len(names) > MENTIONS_PER_POST:
        raise InvalidInput(
            f"A post mentions at most {MENTIONS_PER_POST} accounts.",
            field="content",
            code="too_many_mentions",
        )
    if len(tag_names) > TAGS_PER_POST:
        raise InvalidInput(
            f"A post has at most {TAGS_PER_POST} hashtags.", field="content", code="too_many_tags"
        )
    accounts: dict[str, User] = {}
    if names:
        found = User.objects.alias(name=Lower("username")).filter(name__in=names, is_active=True)
        accounts = {user.username.lower(): user for user in found}
    entities = entities_of(
        spans, {name: (user.username, user.pk) for name, user in accounts.items()}
    )
    mentioned = [accounts[name] for name in names if name in accounts]
    return PostText(entities=entities, tag_names=tag_names, mentioned=mentioned)


def post_text_link(*, post: Post, text: PostText, edited: bool = False) -> None:
    """Make the post's tags and mentions those of `text`, in the caller's transaction. A new
    mention notifies the account mentioned, unless either blocks the other or the account
    mutes the author; a mention an edit takes out takes its notification with it. With
    `edited` False (a new post) there is nothing to compare with."""
    _tags_set(post, text.tag_names, edited=edited)
    _mentions_set(post, text.mentioned, edited=edited)


def post_tags_clear(*, post: Post) -> list[int]:
    """Before the post is deleted: its uses leave the tags' history and trends. Returns the
    ids of the tags it used."""
    return _tags_set(post, [], edited=True)


def _tags_set(post: Post, names: list[str], *, edited: bool) -> list[int]:
    """Link the post to the tags `names`; returns the ids of those it no longer uses."""
    had = (
        dict(PostTag.objects.filter(post=post).values_list("tag__name", "tag_id")) if edited else {}
    )
    added = [name for name in names if name not in had]
    removed = [tag_id for name, tag_id in had.items() if name not in names]
    day = post.created_at.date()
    # Trends and a tag's history count public posts only (a post's visibility never changes).
    counted = post.visibility == Visibility.PUBLIC
    if added:
        Tag.objects.bulk_create([Tag(name=name) for name in added], ignore_conflicts=True)
        tag_ids = list(Tag.objects.filter(name__in=added).values_list("pk", flat=True))
        PostTag.objects.bulk_create([PostTag(post=post, tag_id=tag_id) for tag_id in tag_ids])
        for tag_id in tag_ids if counted else []:
            _count_use(tag_id, day, post.author_id, +1)
    if removed:
        PostTag.objects.filter(post=post, tag_id__in=removed).delete()
        for tag_id in removed if counted else []:
            _count_use(tag_id, day, post.author_id, -1)
    return removed


def _count_use(tag_id: int, day: date, account_id: int, change: int) -> None:
    """One more (or one fewer) post of the account's using the tag that day. The unique
    (tag, day, account) row decides between concurrent posts; a count back to 0 goes."""
    uses = TagUse.objects.filter(tag_id=tag_id, day=day, account_id=account_id)
    if change < 0:
        uses.filter(posts=1).delete()
        uses.filter(posts__gt=1).update(posts=F("posts") - 1)
        return

    def on_create(_use: TagUse) -> None:
        return None

    _use, created = get_or_create_unique(
        TagUse,
        on_create=on_create,
        still_possible=lambda: True,
        tag_id=tag_id,
        day=day,
        account_id=account_id,
        defaults={"posts": 1},
    )
    if not created:
        uses.update(posts=F("posts") + 1)


def _mentions_set(post: Post, mentioned: list[User], *, edited: bool) -> None:
    had = (
        set(Mention.objects.filter(post=post).values_list("user_id", flat=True))
        if edited
        else set()
    )
    wanted = {user.pk for user in mentioned}
    if had - wanted:
        # Their notifications go with them (Mention.notifications).
        Mention.objects.filter(post=post, user_id__in=had - wanted).delete()
    new = [user for user in mentioned if user.pk not in had]
    if not new:
        return
    author = post.author
    shunning = accounts_shunning(author, [user.pk for user in new])
    for mention in Mention.objects.bulk_create([Mention(post=post, user=user) for user in new]):
        if mention.user_id not in shunning:
            notification_create(
                recipient_id=mention.user_id,
                actor=author,
                kind=NotificationKind.MENTION,
                target=mention,
            )


def tag_follow_create(*, user: User, name: str) -> bool:
    """Follow a tag (made if no post has used it yet); says whether the follow is new. Its
    public posts are in the user's home feed from then on (their timeline is rebuilt)."""
    tag = tag_get_or_create(name)

    def on_create(_follow: TagFollow) -> None:
        feed_services.following_changed(user.pk)

    try:
        _follow, created = get_or_create_unique(
            TagFollow,
            on_create=on_create,
            still_possible=Tag.objects.filter(pk=tag.pk).exists,
            user=user,
            tag=tag,
        )
    except IntegrityError as exc:
        raise Http404("No such tag.") from exc
    return created


def tag_follow_delete(*, user: User, name: str) -> None:
    with transaction.atomic():
        _total, removed = TagFollow.objects.filter(
            user=user, tag__name=tag_normal_form(name)
        ).delete()
        if removed.get(TagFollow._meta.label):
            feed_services.following_changed(user.pk)


def tag_get_or_create(name: str) -> Tag:
    tag, _created = get_or_create_unique(
        Tag,
        on_create=lambda _tag: None,
        still_possible=lambda: True,
        name=tag_normal_form(name),
    )
    return tag
