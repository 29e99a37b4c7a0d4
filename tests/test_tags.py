"""Mentions and hashtags: what a post's text links it to, who is told, the tag pages, tag
follows and the trends."""

import importlib
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.apps import apps
from django.utils import timezone
from rest_framework.test import APIClient

from plaza.accounts.models import User
from plaza.graph.services import block_create, follow_create, mute_create, privacy_set
from plaza.notifications.models import Notification, NotificationKind
from plaza.posts.models import Post
from plaza.tags.models import Mention, PostTag, Tag, TagFollow, TagUse
from plaza.tags.services import MENTIONS_PER_POST, TAGS_PER_POST
from tests.factories import PostFactory, UserFactory

pytestmark = pytest.mark.django_db

MakeClient = Callable[[User], APIClient]


def publish(client: APIClient, content: str, **fields: Any) -> dict[str, Any]:
    response = client.post("/api/posts/", {"content": content, **fields}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def mentions_of(user: User) -> list[str]:
    """The posts (ids) the user was told mention them."""
    mentions = Mention.objects.filter(
        pk__in=Notification.objects.filter(recipient=user, kind=NotificationKind.MENTION).values(
            "target_id"
        )
    )
    return [str(post_id) for post_id in mentions.order_by("id").values_list("post_id", flat=True)]


# --- Entities --------------------------------------------------------------------------------


def test_a_post_renders_its_mentions_tags_and_links_with_positions(make_client: MakeClient) -> None:
    author, grace = UserFactory.create(), UserFactory.create(username="Grace")
    content = "🎉 @grace & @nobody: #Café at https://example.com/menu."

    body = publish(make_client(author), content)

    assert body["content"] == content  # as written: plain text, never rewritten
    assert body["entities"] == [
        {"type": "mention", "start": 2, "end": 8, "username": "Grace", "id": str(grace.pk)},
        {"type": "hashtag", "start": 20, "end": 25, "name": "café"},
        {"type": "link", "start": 29, "end": 53, "url": "https://example.com/menu"},
    ]
    for entity in body["entities"]:
        assert content[entity["start"] : entity["end"]][0] in "@#h"
    # The same on every read path.
    assert (
        make_client(grace).get(f"/api/posts/{body['id']}/").json()["entities"] == body["entities"]
    )


def test_markup_in_content_stays_text(make_client: MakeClient) -> None:
    content = '<script>alert("@x")</script> <b>#bold</b>'
    body = publish(make_client(UserFactory.create()), content)
    assert body["content"] == content
    # A tag among markup is still a tag; the markup is the client's to show as text.
    assert body["entities"] == [{"type": "hashtag", "start": 32, "end": 37, "name": "bold"}]


def test_an_edit_reads_the_text_again(make_client: MakeClient) -> None:
    author = UserFactory.create()
    grace, alan = UserFactory.create(username="grace"), UserFactory.create(username="alan")
    client = make_client(author)
    post = publish(client, "Hi @grace #one")
    url = f"/api/posts/{post['id']}/"

    edited = client.patch(url, {"content": "Hi @grace and @alan #two"}, format="json").json()

    assert [e.get("username") or e.get("name") for e in edited["entities"]] == [
        "grace",
        "alan",
        "two",
    ]
    # Grace was told once, when first mentioned; Alan now.
    assert mentions_of(grace) == [post["id"]]
    assert mentions_of(alan) == [post["id"]]
    assert list(PostTag.objects.values_list("tag__name", flat=True)) == ["two"]
    # Taken out again: the mention and its notification go.
    client.patch(url, {"content": "Nobody now"}, format="json")
    assert mentions_of(alan) == mentions_of(grace) == []
    assert not Mention.objects.exists()
    assert not PostTag.objects.exists()
    # An edit that leaves the content alone keeps what it links to.
    client.patch(url, {"content": "Again @alan #three"}, format="json")
    client.patch(url, {"title": "A title"}, format="json")
    assert mentions_of(alan) == [post["id"]]
    assert list(PostTag.objects.values_list("tag__name", flat=True)) == ["three"]


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (" ".join(f"@user{n}" for n in range(MENTIONS_PER_POST + 1)), "too_many_mentions"),
        (" ".join(f"#tag{n}" for n in range(TAGS_PER_POST + 1)), "too_many_tags"),
    ],
)
def test_a_post_cannot_notify_a_crowd_or_flood_the_tags(
    make_client: MakeClient, content: str, code: str
) -> None:
    response = make_client(UserFactory.create()).post(
        "/api/posts/", {"content": content}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == code
    assert not Post.objects.exists()
    assert not Tag.objects.exists()


def test_the_limits_count_each_name_once(make_client: MakeClient) -> None:
    content = " ".join(["@same #same"] * (MENTIONS_PER_POST + 5))
    assert publish(make_client(UserFactory.create()), content)["content"] == content


# --- Mentions ---------------------------------------------------------------------------------


def test_a_mention_notifies_the_account_mentioned(make_client: MakeClient) -> None:
    author, grace = UserFactory.create(), UserFactory.create(username="grace")
    post = publish(make_client(author), "Thanks @GRACE and @grace, and me: @" + author.username)

    (item,) = make_client(grace).get("/api/notifications/").json()["results"]
    assert item["type"] == "mention"
    assert item["actor"]["id"] == str(author.pk)
    assert item["target"]["type"] == "post"
    assert item["target"]["id"] == post["id"]
    assert not Notification.objects.filter(recipient=author).exists()  # not for oneself


@pytest.mark.parametrize(
    "relation",
    ["mentioned blocks author", "author blocks mentioned", "mentioned mutes author"],
)
def test_no_mention_notification_across_a_block_or_from_a_muted_account(
    make_client: MakeClient, relation: str
) -> None:
    author, grace = UserFactory.create(), UserFactory.create(username="grace")
    if relation == "mentioned blocks author":
        block_create(blocker=grace, blocked=author)
    elif relation == "author blocks mentioned":
        block_create(blocker=author, blocked=grace)
    else:
        mute_create(muter=grace, muted=author)

    publish(make_client(author), "Hey @grace")

    assert not Notification.objects.filter(recipient=grace).exists()
    # Undone later, nothing appears: there was never a notification to show.
    if relation == "mentioned mutes author":
        from plaza.graph.services import mute_delete

        mute_delete(muter=grace, muted=author)
        assert make_client(grace).get("/api/notifications/").json()["results"] == []


def test_the_account_mentioned_may_see_a_private_accounts_post(make_client: MakeClient) -> None:
    author, grace, stranger = (
        UserFactory.create(),
        UserFactory.create(username="grace"),
        UserFactory.create(),
    )
    privacy_set(user=author, is_private=True)
    post = publish(make_client(author), "Only for you, @grace")
    url = f"/api/posts/{post['id']}/"

    assert make_client(grace).get(url).status_code == 200
    assert make_client(grace).get(f"{url}comments/").status_code == 200
    assert make_client(grace).post(f"{url}like/").status_code == 201
    assert make_client(stranger).get(url).status_code == 404
    assert APIClient().get(url).status_code == 404


def test_a_deleted_post_takes_its_mentions_and_their_notifications(
    make_client: MakeClient,
) -> None:
    author, grace = UserFactory.create(), UserFactory.create(username="grace")
    client = make_client(author)
    post = publish(client, "Hi @grace #gone")

    assert client.delete(f"/api/posts/{post['id']}/").status_code == 204

    assert not Mention.objects.exists()
    assert not Notification.objects.filter(recipient=grace).exists()
    assert not TagUse.objects.exists()
    assert make_client(grace).get("/api/tags/gone/").json()["history"][0]["uses"] == 0


# --- Tag pages -------------------------------------------------------------------------------


def test_a_tag_page_counts_todays_uses_and_accounts(make_client: MakeClient) -> None:
    ada, grace, reader = UserFactory.create_batch(3)
    publish(make_client(ada), "#Café one")
    publish(make_client(ada), "#cafe\u0301 two")
    publish(make_client(grace), "#CAFÉ three")

    body = make_client(reader).get("/api/tags/CAF%C3%89/").json()

    assert body["name"] == "café"
    assert body["following"] is False
    assert len(body["history"]) == 7
    today = timezone.now().date()
    assert body["history"][0] == {"day": today.isoformat(), "uses": 3, "accounts": 2}
    assert body["history"][6]["day"] == (today - timedelta(days=6)).isoformat()
    assert all(day["uses"] == 0 for day in body["history"][1:])
    assert APIClient().get("/api/tags/café/").json()["following"] is None


def test_a_tag_nobody_used_answers_with_zeros_and_a_non_tag_is_404() -> None:
    body = APIClient().get("/api/tags/Unused/").json()
    assert body["name"] == "unused"
    assert {day["uses"] for day in body["history"]} == {0}
    for name in ("2026", "no%20spaces", "a-b", "x" * 101):
        response = APIClient().get(f"/api/tags/{name}/")
        assert response.status_code == 404, name
        assert response.json()["code"] == "not_found"
        assert APIClient().get(f"/api/tags/{name}/posts/").status_code == 404


def test_a_tags_posts_are_public_ones_newest_first(make_client: MakeClient) -> None:
    public, private, muted, reader = UserFactory.create_batch(4)
    privacy_set(user=private, is_private=True)
    follow_create(follower=reader, followee=private)  # a request: not a follower yet
    older = publish(make_client(public), "#plaza older")
    publish(make_client(private), "#plaza from a private account")
    publish(make_client(muted), "#plaza muted")
    mine = publish(make_client(reader), "#plaza mine")
    newer = publish(make_client(public), "#Plaza newer")
    publish(make_client(public), "#elsewhere")
    mute_create(muter=reader, muted=muted)

    results = make_client(reader).get("/api/tags/plaza/posts/").json()["results"]

    assert [post["id"] for post in results] == [newer["id"], mine["id"], older["id"]]
    assert APIClient().get("/api/tags/PLAZA/posts/").status_code == 200
    assert APIClient().get("/api/tags/nobody_used_this/posts/").json()["results"] == []


def test_a_tag_edited_out_or_a_post_deleted_leaves_the_page(make_client: MakeClient) -> None:
    author = UserFactory.create()
    client = make_client(author)
    edited, deleted = publish(client, "#tidy a"), publish(client, "#tidy b")

    client.patch(f"/api/posts/{edited['id']}/", {"content": "no tag"}, format="json")
    client.delete(f"/api/posts/{deleted['id']}/")

    assert APIClient().get("/api/tags/tidy/posts/").json()["results"] == []
    assert APIClient().get("/api/tags/tidy/").json()["history"][0]["uses"] == 0


# --- Following tags --------------------------------------------------------------------------


def test_following_a_tag(make_client: MakeClient) -> None:
    reader = UserFactory.create()
    client = make_client(reader)

    first, again = client.post("/api/tags/Birds/follow/"), client.post("/api/tags/birds/follow/")

    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json() == {"name": "birds", "following": True}
    assert TagFollow.objects.filter(user=reader).count() == 1
    assert client.get("/api/tags/BIRDS/").json()["following"] is True
    (listed,) = client.get("/api/me/tags/").json()["results"]
    assert (listed["name"], listed["following"]) == ("birds", True)

    assert client.delete("/api/tags/birds/follow/").status_code == 204
    assert client.delete("/api/tags/birds/follow/").status_code == 204
    assert client.get("/api/me/tags/").json()["results"] == []
    assert client.post("/api/tags/12/follow/").status_code == 404
    assert APIClient().post("/api/tags/birds/follow/").status_code == 401


# --- Trends ----------------------------------------------------------------------------------


def test_trends_rank_tags_by_distinct_public_accounts_since_yesterday(
    make_client: MakeClient,
) -> None:
    accounts = UserFactory.create_batch(4)
    hidden = UserFactory.create()
    privacy_set(user=hidden, is_private=True)
    # #busy: one account, many posts; #wide: three accounts; #secret: private accounts only.
    for _ in range(5):
        publish(make_client(accounts[0]), "#busy")
    for account in accounts[1:]:
        publish(make_client(account), "#wide")
    publish(make_client(accounts[0]), "#busy #wide #middle")
    publish(make_client(accounts[1]), "#middle")
    publish(make_client(hidden), "#secret #middle")
    # Two days ago no longer trends.
    old = PostFactory.create(author=accounts[2])
    TagUse.objects.create(
        tag=Tag.objects.create(name="stale"),
        day=timezone.now().date() - timedelta(days=2),
        account=accounts[2],
        posts=1,
    )
    assert old.pk

    body = APIClient().get("/api/trends/tags/").json()

    assert [tag["name"] for tag in body] == ["wide", "middle", "busy"]
    assert body[0]["history"][0] == {
        "day": timezone.now().date().isoformat(),
        "uses": 4,
        "accounts": 4,
    }
    assert [tag["name"] for tag in APIClient().get("/api/trends/tags/?limit=1").json()] == ["wide"]
    for limit in ("0", "21", "x"):
        assert APIClient().get(f"/api/trends/tags/?limit={limit}").status_code == 400


# --- Existing posts --------------------------------------------------------------------------


def test_posts_written_before_entities_are_linked_by_the_migration() -> None:
    grace = UserFactory.create(username="grace")
    old = PostFactory.create(content="Hello @Grace #OldTag https://example.com")
    plain = PostFactory.create(content="Nothing to see")
    migration = importlib.import_module("plaza.tags.migrations.0002_link_existing_posts")

    migration.link_existing_posts(apps, None)

    old.refresh_from_db()
    assert [entity["type"] for entity in old.entities] == ["mention", "hashtag", "link"]
    assert old.entities[0]["id"] == str(grace.pk)
    assert list(PostTag.objects.values_list("post_id", "tag__name")) == [(old.pk, "oldtag")]
    assert list(Mention.objects.values_list("post_id", "user_id")) == [(old.pk, grace.pk)]
    use = TagUse.objects.get()
    assert (use.account_id, use.posts) == (old.author_id, 1)
    assert not Notification.objects.exists()  # old news
    plain.refresh_from_db()
    assert plain.entities == []


# --- Followed tags in the home feed ------------------------------------------------------------


def feed_ids(client: APIClient) -> list[str]:
    response = client.get("/api/feed/?limit=100")
    assert response.status_code == 200, response.content
    return [post["id"] for post in response.json()["results"]]


def test_a_followed_tags_public_posts_enter_the_home_feed(make_client: MakeClient) -> None:
    reader, friend, stranger, private, muted, blocker = UserFactory.create_batch(6)
    follow_create(follower=reader, followee=friend)
    privacy_set(user=private, is_private=True)
    mute_create(muter=reader, muted=muted)
    block_create(blocker=blocker, blocked=reader)
    client = make_client(reader)
    assert client.post("/api/tags/birds/follow/").status_code == 201
    client.post("/api/tags/owls/follow/")

    shown = [
        publish(make_client(stranger), "A robin #Birds"),
        publish(make_client(stranger), "Both tags: #birds #owls"),  # once, not twice
        publish(make_client(friend), "Followed and tagged: #birds"),  # once, not twice
        publish(make_client(friend), "Followed, no tag"),
    ]
    for author, content in [
        (stranger, "Untagged"),
        (stranger, "Another tag #cats"),
        (private, "Private #birds"),
        (muted, "Muted #birds"),
        (blocker, "Blocks the reader #birds"),
    ]:
        publish(make_client(author), content)

    assert feed_ids(client) == [post["id"] for post in reversed(shown)]

    # Unfollowed, the tags' posts leave the feed; the followed account's stay.
    client.delete("/api/tags/birds/follow/")
    client.delete("/api/tags/owls/follow/")
    assert feed_ids(client) == [shown[3]["id"], shown[2]["id"]]


def test_the_followed_tags_feed_pages_without_gaps_or_repeats(make_client: MakeClient) -> None:
    reader, friend, stranger = UserFactory.create_batch(3)
    follow_create(follower=reader, followee=friend)
    client = make_client(reader)
    client.post("/api/tags/walk/follow/")
    expected = []
    for number in range(25):
        author = (friend, stranger, reader)[number % 3]
        content = f"post {number}" + (" #walk" if number % 2 else "")
        post = publish(make_client(author), content)
        if author != stranger or number % 2:
            expected.append(post["id"])

    walked, url = [], "/api/feed/?limit=4"
    while url:
        page = client.get(url).json()
        walked += [post["id"] for post in page["results"]]
        url = page["next"]

    assert walked == expected[::-1]
