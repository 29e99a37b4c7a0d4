"""The domain's representations build their dicts by hand for speed, and the REST serializers
delegate to them. These tests hold them to exactly what DRF's field-by-field rendering of the
serializers' declared fields (which the OpenAPI schema describes) would give, value by value;
tests/test_shapes.py checks the shapes of real answers and events against the schema."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from plaza.core.representations import iso_datetime
from plaza.media.selectors import attachments_by_post
from plaza.media.services import media_attach
from plaza.posts.models import Post
from plaza.posts.selectors import ViewerMarks
from plaza.rest.common import UserSummarySerializer
from plaza.rest.media import MediaAttachmentSerializer
from plaza.rest.posts import PostSerializer
from tests.factories import GIF, PostFactory, UserFactory, image_bytes, upload_for

pytestmark = pytest.mark.django_db


def generic(serializer: serializers.ModelSerializer, instance: object) -> object:
    """What DRF's own ModelSerializer.to_representation makes of the declared fields."""
    return serializers.ModelSerializer.to_representation(serializer, instance)


@pytest.fixture(params=["with request", "without request"])
def context(request: pytest.FixtureRequest) -> dict[str, object]:
    if request.param == "without request":
        return {}
    return {"request": request_from_localhost()}


def request_from_localhost() -> Request:
    return Request(APIRequestFactory().get("/api/posts/", HTTP_HOST="localhost"))


@pytest.mark.parametrize("with_avatar", [False, True])
def test_user_summary_matches_drf(
    context: dict[str, object], with_avatar: bool, settings, tmp_path
) -> None:
    settings.MEDIA_ROOT = tmp_path
    settings.PUBLIC_URL = "http://localhost"  # the host the request context uses
    author = UserFactory.create(display_name="Émile Zola")
    if with_avatar:
        author.avatar.save("face.gif", SimpleUploadedFile("face.gif", GIF), save=True)
    serializer = UserSummarySerializer(context=context)
    fast = serializer.to_representation(author)
    # The avatar is absolute either way: live events, rendered without a request, make it
    # absolute from PUBLIC_URL where DRF alone would leave a bare path.
    with_request = UserSummarySerializer(context={"request": request_from_localhost()})
    assert fast == generic(with_request, author)
    assert fast["avatar"] is None or fast["avatar"].startswith("http://localhost/media/")
    assert (fast["avatar"] is None) is not with_avatar


def request_context() -> dict[str, object]:
    return {"request": request_from_localhost()}


@pytest.mark.parametrize("marked", [None, "neither", "liked", "bookmarked"])
def test_post_matches_drf(context: dict[str, object], marked: str | None, settings) -> None:
    settings.PUBLIC_URL = "http://localhost"  # the host the request context uses
    # Every field distinct, so swapping two of them in the hand-built dict cannot pass.
    post = PostFactory.create(
        title="Ünïcödé title",
        content="Body\nwith lines",
        spoiler_text="Spoilers <b>ahead</b>",
        sensitive=True,
        likes_count=3,
        comments_count=5,
        updated_at=datetime(2026, 11, 25, 8, 0, tzinfo=UTC),
    )
    uploads = [
        upload_for(post.author, description="A flag", focus=(0.25, -0.5)),
        upload_for(post.author, image=image_bytes("GIF", (30, 20))),
    ]
    media_attach(post=post, media_ids=[upload.pk for upload in uploads])
    marks = None
    if marked is not None:
        mine = frozenset({post.pk})
        marks = ViewerMarks(
            liked=mine if marked == "liked" else frozenset(),
            bookmarked=mine if marked == "bookmarked" else frozenset(),
        )
    serializer = PostSerializer(
        context={
            **context,
            "marks": marks,
            "attachments_by_post": attachments_by_post([post]),
        }
    )
    post = Post.objects.select_related("author").get(pk=post.pk)
    fast = serializer.to_representation(post)
    # DRF renders file URLs from the request; the fast path, without one, from PUBLIC_URL.
    with_request = PostSerializer(context={**serializer.context, **request_context()})
    assert fast == generic(with_request, post)
    assert fast["liked_by_me"] == (None if marked is None else marked == "liked")
    assert fast["bookmarked_by_me"] == (None if marked is None else marked == "bookmarked")
    assert (fast["spoiler_text"], fast["sensitive"]) == ("Spoilers <b>ahead</b>", True)
    assert [item["id"] for item in fast["media_attachments"]] == [str(u.pk) for u in uploads]
    assert fast["media_attachments"][0]["focus"] == {"x": 0.25, "y": -0.5}


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 11, 24, 0, 14, 42, 953115, tzinfo=UTC),
        datetime(2026, 11, 24, 0, 14, 42, tzinfo=UTC),  # no microseconds
        datetime(2026, 11, 24, 2, 14, 42, tzinfo=timezone(timedelta(hours=2))),  # not UTC
    ],
)
def test_datetimes_render_as_drf_does(moment: datetime) -> None:
    assert iso_datetime(moment) == serializers.DateTimeField().to_representation(moment)


def test_media_attachment_matches_drf(context: dict[str, object], settings) -> None:
    settings.PUBLIC_URL = "http://localhost"  # the host the request context uses
    media = upload_for(UserFactory.create(), description="Ünïcödé alt text", focus=(-1.0, 0.75))
    serializer = MediaAttachmentSerializer(context=context)
    fast = serializer.to_representation(media)
    with_request = MediaAttachmentSerializer(context=request_context())
    assert fast == generic(with_request, media)
    assert fast["url"].startswith("http://localhost/media/attachments/")
    assert fast["preview_url"] != fast["url"]
