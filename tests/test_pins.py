"""Pins: up to five of an account's own posts at the top of its profile."""

from collections.abc import Callable

import pytest
from rest_framework.test import APIClient

from plaza.accounts.models import User
from plaza.graph.services import block_create, follow_create, privacy_set
from plaza.posts.models import PINS_PER_ACCOUNT, Pin, Post
from tests.factories import PostFactory, UserFactory
from tests.races import THREADS, Call, run_together

MakeClient = Callable[[User], APIClient]


def pin_url(post: Post) -> str:
    return f"/api/posts/{post.pk}/pin/"


def pinned_ids(client: APIClient, author: User) -> list[str]:
    response = client.get(f"/api/posts/?author={author.username}&pinned=true")
    assert response.status_code == 200, response.content
    return [post["id"] for post in response.json()["results"]]


@pytest.mark.django_db
def test_pinning_is_201_then_200_and_shows_on_the_post_and_the_profile(
    make_client: MakeClient,
) -> None:
    ada = UserFactory.create()
    pinned, other = PostFactory.create(author=ada), PostFactory.create(author=ada)
    client = make_client(ada)

    first, again = client.post(pin_url(pinned)), client.post(pin_url(pinned))

    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json() == {"post_id": str(pinned.pk), "pinned": True}
    assert Pin.objects.filter(user=ada).count() == 1
    assert client.get(f"/api/posts/{pinned.pk}/").json()["pinned_by_me"] is True
    assert client.get(f"/api/posts/{other.pk}/").json()["pinned_by_me"] is False
    # Anyone sees the top of the profile; only the author is told it is theirs.
    reader = make_client(UserFactory.create())
    assert pinned_ids(reader, ada) == [str(pinned.pk)]
    assert pinned_ids(APIClient(), ada) == [str(pinned.pk)]
    assert reader.get(f"/api/posts/{pinned.pk}/").json()["pinned_by_me"] is False
    assert APIClient().get(f"/api/posts/{pinned.pk}/").json()["pinned_by_me"] is None
    # The whole profile still lists both.
    listed = client.get(f"/api/posts/?author={ada.username}").json()["results"]
    assert {post["id"] for post in listed} == {str(pinned.pk), str(other.pk)}


@pytest.mark.django_db
def test_only_your_own_posts_can_be_pinned(make_client: MakeClient) -> None:
    ada, grace = UserFactory.create(), UserFactory.create()
    post = PostFactory.create(author=grace)

    response = make_client(ada).post(pin_url(post))

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert not Pin.objects.exists()
    # Unpinning someone else's post touches nothing of theirs.
    Pin.objects.create(user=grace, post=post, slot=0)
    assert make_client(ada).delete(pin_url(post)).status_code == 204
    assert Pin.objects.filter(user=grace, post=post).exists()


@pytest.mark.django_db
def test_a_sixth_pin_is_refused_until_one_is_unpinned(make_client: MakeClient) -> None:
    ada = UserFactory.create()
    posts = PostFactory.create_batch(PINS_PER_ACCOUNT + 1, author=ada)
    client = make_client(ada)
    for post in posts[:PINS_PER_ACCOUNT]:
        assert client.post(pin_url(post)).status_code == 201

    refused = client.post(pin_url(posts[-1]))

    assert refused.status_code == 400
    assert refused.json()["code"] == "too_many_pins"
    assert client.delete(pin_url(posts[0])).status_code == 204
    assert client.delete(pin_url(posts[0])).status_code == 204  # also when it was not
    assert client.post(pin_url(posts[-1])).status_code == 201
    assert set(pinned_ids(client, ada)) == {str(post.pk) for post in posts[1:]}


@pytest.mark.django_db
def test_deleting_a_pinned_post_frees_its_place(make_client: MakeClient) -> None:
    ada = UserFactory.create()
    posts = PostFactory.create_batch(PINS_PER_ACCOUNT + 1, author=ada)
    client = make_client(ada)
    for post in posts[:PINS_PER_ACCOUNT]:
        client.post(pin_url(post))

    assert client.delete(f"/api/posts/{posts[0].pk}/").status_code == 204

    assert client.post(pin_url(posts[-1])).status_code == 201
    assert Pin.objects.filter(user=ada).count() == PINS_PER_ACCOUNT


@pytest.mark.django_db
def test_pinned_posts_of_a_private_account_are_for_its_followers(
    make_client: MakeClient,
) -> None:
    ada, follower, stranger = (UserFactory.create() for _ in range(3))
    post = PostFactory.create(author=ada)
    make_client(ada).post(pin_url(post))
    follow_create(follower=follower, followee=ada)
    privacy_set(user=ada, is_private=True)

    assert pinned_ids(make_client(follower), ada) == [str(post.pk)]
    assert pinned_ids(make_client(stranger), ada) == []
    assert pinned_ids(APIClient(), ada) == []
    assert make_client(stranger).post(pin_url(post)).status_code == 404


@pytest.mark.django_db
def test_pinned_posts_are_hidden_across_a_block(make_client: MakeClient) -> None:
    ada, grace = UserFactory.create(), UserFactory.create()
    post = PostFactory.create(author=ada)
    make_client(ada).post(pin_url(post))
    block_create(blocker=ada, blocked=grace)

    assert pinned_ids(make_client(grace), ada) == []


@pytest.mark.django_db
def test_the_export_lists_pins(make_client: MakeClient) -> None:
    ada = UserFactory.create()
    post = PostFactory.create(author=ada)
    client = make_client(ada)
    client.post(pin_url(post))

    export = client.get("/api/me/export/").json()

    assert [pin["post_id"] for pin in export["pins"]] == [str(post.pk)]


@pytest.mark.django_db(transaction=True)
def test_pins_sent_at_once_stop_at_five(make_client: MakeClient) -> None:
    ada = UserFactory.create()
    posts = PostFactory.create_batch(THREADS, author=ada)

    statuses = run_together([Call(make_client(ada), "post", pin_url(post)) for post in posts])

    assert sorted(statuses) == [201] * PINS_PER_ACCOUNT + [400] * (THREADS - PINS_PER_ACCOUNT)
    assert Pin.objects.filter(user=ada).count() == PINS_PER_ACCOUNT


@pytest.mark.django_db(transaction=True)
def test_one_post_pinned_at_once_is_pinned_once(make_client: MakeClient) -> None:
    ada = UserFactory.create()
    post = PostFactory.create(author=ada)

    statuses = run_together([Call(make_client(ada), "post", pin_url(post)) for _ in range(THREADS)])

    assert sorted(statuses) == [200] * (THREADS - 1) + [201]
    assert Pin.objects.filter(post=post).count() == 1
