"""The scene the security tests attack: a victim with one of everything an id can name, a
friend they talk to, and an attacker with an account of their own."""

from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.db import models
from rest_framework.test import APIClient

from plaza.accounts.models import AuthToken, User
from plaza.graph.models import FollowRequest
from plaza.graph.services import follow_create
from plaza.media.models import MediaAttachment
from plaza.messaging.models import Conversation, Message
from plaza.messaging.services import conversation_get_or_create, message_send
from plaza.notifications.models import Notification
from plaza.posts.models import Comment, Post
from plaza.posts.services import comment_create, like_create, post_create, repost_create
from plaza.tags.services import tag_follow_create
from tests.factories import FollowRequestFactory, UserFactory, token_for, upload_for


@dataclass
class Scene:
    victim: User
    friend: User
    attacker: User
    post: Post
    comment: Comment
    notification: Notification
    conversation: Conversation
    message: Message
    follow_request: FollowRequest
    media: MediaAttachment

    def path(self, template: str) -> str:
        return template.format(
            username=self.victim.username,
            post_id=self.post.pk,
            comment_id=self.comment.pk,
            notification_id=self.notification.pk,
            conversation_id=self.conversation.pk,
            request_id=self.follow_request.pk,
            media_id=self.media.pk,
            name="mine",
        )

    def client(self, user: User | None) -> APIClient:
        client = APIClient()
        if user is not None:
            client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(user)}")
        return client


def build_scene() -> Scene:
    victim = UserFactory.create(username="victim", email="victim@example.com")
    friend = UserFactory.create(username="friend", email="friend@example.com")
    attacker = UserFactory.create(username="attacker", email="attacker@example.com")
    post = post_create(author=victim, title="Mine", content="Only I may change this. #mine")
    tag_follow_create(user=victim, name="mine")
    comment = comment_create(author=victim, post=post, content="My comment")
    like_create(user=victim, post=post)
    like_create(user=friend, post=post)
    repost_create(user=friend, post=post)  # the victim's latest notification (below)
    follow_create(follower=friend, followee=victim)
    follow_create(follower=victim, followee=friend)
    conversation, _created = conversation_get_or_create(creator=friend, usernames=["victim"])
    message = message_send(sender=friend, conversation=conversation, body="Just between us")
    notification = Notification.objects.filter(recipient=victim).latest("pk")
    # Someone waits for the victim's answer (as after the victim went public a moment ago,
    # before the pending requests were accepted): the attacker must not answer it.
    follow_request = FollowRequestFactory.create(
        requester=UserFactory.create(username="applicant", email="applicant@example.com"),
        target=victim,
    )
    return Scene(
        victim,
        friend,
        attacker,
        post,
        comment,
        notification,
        conversation,
        message,
        follow_request,
        upload_for(victim, description="My holiday"),  # not attached to anything yet
    )


# Columns that change on their own, whoever calls.
VOLATILE: dict[type[models.Model], set[str]] = {User: {"last_login"}}


def _plaza_models() -> list[type[models.Model]]:
    # Tokens are left out: signing a test client in makes one (tests/security/
    # test_api2_authentication.py is about them).
    return [
        model
        for model in apps.get_models()
        if model.__module__.startswith("plaza.") and model is not AuthToken
    ]


def _involves(model: type[models.Model], user: User) -> models.Q:
    """Rows of `model` that point at `user` through any foreign key (or are `user`)."""
    query = models.Q(pk=user.pk) if model is User else models.Q(pk__in=[])
    for field in model._meta.get_fields():
        if isinstance(field, models.ForeignKey) and field.related_model is User:
            query |= models.Q(**{field.attname: user.pk})
    return query


def snapshot(*, apart_from: User | None = None, counters: bool = True) -> dict[str, Any]:
    """Every row of every Plaza table. `apart_from` leaves out the rows that involve that user
    (what they may legitimately change: their own likes, follows, comments); `counters=False`
    leaves out the denormalised counters their actions move on others' rows."""
    state: dict[str, Any] = {}
    for model in _plaza_models():
        rows = model._default_manager.all()
        if apart_from is not None:
            rows = rows.exclude(_involves(model, apart_from))
        skip = VOLATILE.get(model, set())
        if not counters:
            skip = skip | {f.attname for f in model._meta.fields if f.attname.endswith("_count")}
            # The last-message pointers and activity markers move with any new message.
            skip |= {"last_message_id", "last_activity_id"}
        names = [f.attname for f in model._meta.fields if f.attname not in skip]
        state[model._meta.label] = list(rows.order_by("pk").values(*names))
    return state
