"""Management commands a newcomer and an operator run."""

from io import StringIO

import pytest
from django.core.management import call_command

from plaza.accounts.models import User
from plaza.notifications.models import Notification
from plaza.posts.models import Post


def test_models_and_migrations_agree(db: None) -> None:
    """A model change without its migration would break every fresh `make run`."""
    call_command("makemigrations", "--check", "--dry-run", stdout=StringIO())


@pytest.mark.django_db
def test_seed_demo_builds_a_network_once_and_consistently(api_client) -> None:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    assert "plaza-demo-2026" in out.getvalue()
    users = User.objects.count()
    posts = Post.objects.count()
    assert users == 5
    assert posts > 0
    assert Notification.objects.exists()

    call_command("seed_demo", stdout=StringIO())  # a second run changes nothing
    assert (User.objects.count(), Post.objects.count()) == (users, posts)

    # Everything went through the services: no counter needs repairing.
    call_command("repair_counters", "--check", stdout=StringIO())

    # The printed credentials work, and the demo feed is not empty.
    login = api_client.post(
        "/api/auth/login/", {"username": "alice", "password": "plaza-demo-2026"}
    )
    assert login.status_code == 200
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {login.json()['token']}")
    feed = api_client.get("/api/feed/").json()["results"]
    assert feed
    # With pictures: every account has an avatar, and some posts have photos with alt text.
    assert not User.objects.filter(avatar="").exists()
    pictures = [item for post in Post.objects.all() for item in post.media.all()]
    assert len(pictures) == 8
    assert all(item.description and item.width == 1600 for item in pictures)


@pytest.mark.django_db
def test_purge_expired_tokens_keeps_live_ones(settings) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from plaza.accounts.models import AuthToken
    from tests.factories import UserFactory

    owner = UserFactory.create()
    stale, _ = AuthToken.generate(owner)
    live, _ = AuthToken.generate(owner)
    AuthToken.objects.filter(pk=stale.pk).update(
        last_used_at=timezone.now() - settings.TOKEN_IDLE_TTL - timedelta(minutes=1)
    )
    out = StringIO()
    call_command("purge_expired_tokens", stdout=out)
    assert "Deleted 1 expired tokens." in out.getvalue()
    assert list(AuthToken.objects.values_list("pk", flat=True)) == [live.pk]
