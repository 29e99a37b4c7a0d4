"""Uploads: what is accepted and how it is stored (re-encoded, without metadata, scaled and
previewed), what is refused and that a refusal leaves nothing behind, attaching to posts, and
deletion of the files with what they belong to. tests/test_front_door.py sends uploads to a
real server (body limits, serving); the security tables cover other people's uploads."""

import io
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import IntegrityError, OperationalError, transaction
from django.http import StreamingHttpResponse
from django.utils import timezone
from PIL import Image
from rest_framework.test import APIClient

from plaza.accounts.models import User
from plaza.core.background import answer_thread
from plaza.media import services as media_services
from plaza.media import tasks as media_tasks
from plaza.media.models import MediaAttachment, MediaState
from plaza.media.services import PROCESSING_ATTEMPTS, media_process, media_requeue_stalled
from plaza.posts.models import Post
from tests.factories import TEST_PASSWORD, PostFactory, UserFactory, image_bytes, upload_for
from tests.helpers import client_for, error_code
from tests.races import THREADS, Call, run_together

pytestmark = pytest.mark.django_db

CommitCallbacks = Any  # pytest-django's django_capture_on_commit_callbacks


def send_upload(client: APIClient, content: bytes, name: str = "picture.png", **fields: str) -> Any:
    file = SimpleUploadedFile(name, content, "image/png")
    return client.post("/api/media/", {"file": file, **fields}, format="multipart")


def served(url: str) -> bytes:
    """The stored file behind an upload's URL, fetched as a client would."""
    response = cast(StreamingHttpResponse, APIClient().get(url))
    assert response.status_code == 200, url
    return b"".join(cast(Iterable[bytes], response.streaming_content))


def stored_files(media_root: Path) -> set[str]:
    return {str(path.relative_to(media_root)) for path in media_root.rglob("*") if path.is_file()}


@pytest.fixture
def ada() -> User:
    return UserFactory.create(username="ada")


@pytest.fixture
def ada_client(ada: User) -> APIClient:
    return client_for(ada)


# --- What is accepted, and how it is stored ------------------------------------------------


@pytest.mark.parametrize(
    ("image_format", "content_type"),
    [("JPEG", "image/jpeg"), ("PNG", "image/png"), ("WEBP", "image/webp"), ("GIF", "image/gif")],
)
def test_each_accepted_format_is_stored_in_its_format(
    ada_client: APIClient, image_format: str, content_type: str
) -> None:
    # Named and declared as something else: the bytes decide.
    answer = send_upload(ada_client, image_bytes(image_format, (64, 48)), name="upload.bin")
    assert answer.status_code == 201, answer.content
    media = answer.json()
    stored = Image.open(io.BytesIO(served(media["url"])))
    assert stored.format == image_format
    assert (media["width"], media["height"]) == stored.size == (64, 48)
    preview = Image.open(io.BytesIO(served(media["preview_url"])))
    assert (media["preview_width"], media["preview_height"]) == preview.size
    assert media["type"] == "image"
    assert media["url"].endswith("." + {"JPEG": "jpg"}.get(image_format, image_format.lower()))
    assert len(media["blurhash"]) > 6
    assert MediaAttachment.objects.get(pk=media["id"]).content_type == content_type


@pytest.mark.parametrize("image_format", ["GIF", "WEBP"])
def test_animations_stay_animated(ada_client: APIClient, image_format: str) -> None:
    frames = [Image.new("RGB", (40, 30), color) for color in ("red", "lime", "blue")]
    output = io.BytesIO()
    frames[0].save(
        output,
        format=image_format,
        save_all=True,
        append_images=frames[1:],
        duration=[100, 200, 300],
        loop=0,
    )
    answer = send_upload(ada_client, output.getvalue())
    assert answer.status_code == 201, answer.content
    stored = Image.open(io.BytesIO(served(answer.json()["url"])))
    assert getattr(stored, "n_frames", 1) == 3
    durations = []
    for index in range(3):
        stored.seek(index)
        stored.load()
        durations.append(stored.info["duration"])
    assert durations == [100, 200, 300]
    # The preview is a still.
    assert getattr(Image.open(io.BytesIO(served(answer.json()["preview_url"]))), "n_frames", 1) == 1


def test_large_images_are_scaled_down_with_a_small_preview(ada_client: APIClient) -> None:
    answer = send_upload(ada_client, image_bytes("JPEG", (3000, 1000)))
    assert answer.status_code == 201, answer.content
    media = answer.json()
    assert (media["width"], media["height"]) == (2048, 683)
    assert (media["preview_width"], media["preview_height"]) == (640, 213)


def camera_photo() -> bytes:
    """A photo as a phone takes it: turned by its EXIF orientation, with the camera's make
    and model and where it was taken."""
    image = Image.new("RGB", (30, 20), (200, 120, 40))
    image.paste((20, 40, 200), (0, 0, 10, 20))
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to view
    exif[0x010F] = "PlazaCam"  # make
    exif[0x0110] = "Model X1"  # model
    exif[0x8825] = {1: "N", 2: (52.0, 31.0, 12.0), 3: "E", 4: (13.0, 24.0, 30.0)}  # GPS
    output = io.BytesIO()
    image.save(output, format="JPEG", exif=exif.tobytes(), comment=b"secret note")
    return output.getvalue()


def test_camera_metadata_is_gone_and_orientation_applied(ada_client: APIClient) -> None:
    photo = camera_photo()
    assert b"PlazaCam" in photo
    assert Image.open(io.BytesIO(photo)).getexif().get_ifd(0x8825)  # GPS there before
    answer = send_upload(ada_client, photo)
    assert answer.status_code == 201, answer.content
    for url in (answer.json()["url"], answer.json()["preview_url"]):
        stored_bytes = served(url)
        stored = Image.open(io.BytesIO(stored_bytes))
        assert not stored.getexif()
        assert "exif" not in stored.info
        assert "comment" not in stored.info
        for trace in (b"Exif", b"PlazaCam", b"Model X1", b"secret note"):
            assert trace not in stored_bytes, (url, trace)
    # Turned upright: the 30x20 sensor image is 20 wide and 30 tall.
    assert (answer.json()["width"], answer.json()["height"]) == (20, 30)


def test_text_chunks_of_a_png_are_gone(ada_client: APIClient) -> None:
    from PIL.PngImagePlugin import PngInfo

    chunks = PngInfo()
    chunks.add_text("Location", "52.5200 N, 13.4050 E")
    output = io.BytesIO()
    Image.new("RGB", (8, 8), "white").save(output, format="PNG", pnginfo=chunks)
    answer = send_upload(ada_client, output.getvalue())
    assert answer.status_code == 201, answer.content
    assert b"52.5200" not in served(answer.json()["url"])


def test_a_polyglot_loses_what_rides_along(ada_client: APIClient) -> None:
    """An image that is also a script (bytes appended after the picture) is stored as the
    picture alone."""
    payload = b"<script>alert(document.cookie)</script>"
    answer = send_upload(ada_client, image_bytes("GIF") + payload, name="cat.gif")
    assert answer.status_code == 201, answer.content
    assert b"<script" not in served(answer.json()["url"])


def test_alt_text_and_focus_are_kept_and_can_change(ada_client: APIClient) -> None:
    answer = send_upload(ada_client, image_bytes(), description="A flag", focus="-0.5, 1")
    assert answer.status_code == 201, answer.content
    media = answer.json()
    assert (media["description"], media["focus"]) == ("A flag", {"x": -0.5, "y": 1.0})
    url = f"/api/media/{media['id']}/"
    changed = ada_client.patch(url, {"description": "A red and blue flag", "focus": "0,0"})
    assert changed.status_code == 200, changed.content
    assert changed.json()["description"] == "A red and blue flag"
    assert ada_client.get(url).json()["focus"] == {"x": 0.0, "y": 0.0}


@pytest.mark.parametrize("focus", ["2,0", "0,-1.5", "a,b", "0.5", "0.5,0.5,0.5", " , ", "1e0,0"])
def test_a_focus_outside_the_picture_is_refused(ada_client: APIClient, focus: str) -> None:
    answer = send_upload(ada_client, image_bytes(), focus=focus)
    assert answer.status_code == 400, answer.content
    assert "focus" in answer.json()["fields"]
    assert not MediaAttachment.objects.exists()


# --- What is refused ------------------------------------------------------------------------


def truncated_jpeg() -> bytes:
    whole = image_bytes("JPEG", (200, 200))
    return whole[: len(whole) // 2]


def decompression_bomb() -> bytes:
    """100 million pixels of one grey, in under 100 KB."""
    output = io.BytesIO()
    Image.new("L", (10_000, 10_000)).save(output, format="PNG")
    return output.getvalue()


def endless_animation() -> bytes:
    """301 frames, each a colour of its own (identical frames would be merged)."""
    frames = [Image.new("RGB", (2, 2), (n % 256, n * 7 % 256, 0)) for n in range(301)]
    output = io.BytesIO()
    frames[0].save(output, format="GIF", save_all=True, append_images=frames[1:])
    return output.getvalue()


def truncated_png() -> bytes:
    whole = image_bytes("PNG", (300, 300))
    return whole[: len(whole) - 40]


SVG = b"""<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)">
<script>fetch('/api/me/')</script><rect width="10" height="10"/></svg>"""


@pytest.mark.parametrize(
    ("content", "name", "code"),
    [
        (SVG, "picture.svg", "unsupported_image_type"),
        (SVG, "picture.png", "unsupported_image_type"),
        (b"just some notes, not a picture\n" * 20, "photo.jpg", "unsupported_image_type"),
        (b"<!doctype html><script>alert(1)</script>", "photo.png", "unsupported_image_type"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "photo.jpg", "unsupported_image_type"),
        (truncated_jpeg(), "photo.jpg", "corrupt_image"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 64, "photo.jpg", "corrupt_image"),
        (truncated_png(), "photo.png", "corrupt_image"),
        (decompression_bomb(), "bomb.png", "image_too_large"),
        (endless_animation(), "long.gif", "too_many_frames"),
        (b"", "empty.png", "invalid"),
    ],
    ids=[
        "svg",
        "svg named png",
        "text named jpg",
        "html",
        "pdf",
        "truncated jpeg",
        "jpeg signature, then nothing",
        "truncated png",
        "decompression bomb",
        "301 frames",
        "empty",
    ],
)
def test_what_is_not_an_acceptable_image_is_refused_and_leaves_nothing(
    ada_client: APIClient, media_root: Path, content: bytes, name: str, code: str
) -> None:
    files_before = stored_files(media_root)
    answer = send_upload(ada_client, content, name=name)
    assert answer.status_code == 400, answer.content
    assert error_code(answer, 400) == code
    assert "file" in answer.json()["fields"]
    assert not MediaAttachment.objects.exists()
    assert stored_files(media_root) == files_before


def test_a_file_over_the_upload_limit_is_413(ada_client: APIClient, settings: Any) -> None:
    seventeen_megabytes = b"\x89PNG" + b"\x00" * (17 * 1024 * 1024)
    answer = send_upload(ada_client, seventeen_megabytes)
    assert answer.status_code == 413, answer.content
    assert error_code(answer, 413) == "too_large"
    assert not MediaAttachment.objects.exists()


def test_uploading_needs_an_account(api_client: APIClient) -> None:
    assert send_upload(api_client, image_bytes()).status_code == 401


def test_a_json_body_is_not_an_upload(ada_client: APIClient) -> None:
    answer = ada_client.post("/api/media/", {"file": "aGVsbG8="}, format="json")
    assert answer.status_code == 415


def test_uploads_have_their_own_rate_limit(ada_client: APIClient, settings: Any) -> None:
    settings.THROTTLE_RATES = {**settings.THROTTLE_RATES, "media": (2, 1800)}
    statuses = [send_upload(ada_client, image_bytes()).status_code for _ in range(3)]
    assert statuses == [201, 201, 429]


# --- Attaching ------------------------------------------------------------------------------


def post_with(client: APIClient, media_ids: list[Any]) -> Any:
    return client.post(
        "/api/posts/", {"title": "Pictures", "content": "Look", "media_ids": media_ids}
    )


def test_a_post_shows_its_pictures_in_the_order_given(ada: User, ada_client: APIClient) -> None:
    uploads = [upload_for(ada, description=f"picture {n}") for n in range(4)]
    order = [uploads[2].pk, uploads[0].pk, uploads[3].pk, uploads[1].pk]
    answer = post_with(ada_client, [str(media_id) for media_id in order])
    assert answer.status_code == 201, answer.content
    assert [item["id"] for item in answer.json()["media_attachments"]] == list(map(str, order))
    post_id = answer.json()["id"]
    for url in (f"/api/posts/{post_id}/", "/api/posts/", "/api/feed/"):
        listed = ada_client.get(url).json()
        post = listed["results"][0] if "results" in listed else listed
        assert [item["id"] for item in post["media_attachments"]] == list(map(str, order)), url
    # Others see them too, on the post.
    seen = APIClient().get(f"/api/posts/{post_id}/").json()
    assert [item["description"] for item in seen["media_attachments"]] == [
        "picture 2",
        "picture 0",
        "picture 3",
        "picture 1",
    ]


def test_an_edit_reorders_replaces_or_removes_the_pictures(
    ada: User, ada_client: APIClient
) -> None:
    first, second, third = (upload_for(ada) for _ in range(3))
    post_id = post_with(ada_client, [str(first.pk), str(second.pk)]).json()["id"]
    url = f"/api/posts/{post_id}/"

    def shown(answer: Any) -> list[int]:
        assert answer.status_code == 200, answer.content
        return [int(item["id"]) for item in answer.json()["media_attachments"]]

    assert shown(ada_client.patch(url, {"media_ids": [str(second.pk), str(first.pk)]})) == [
        second.pk,
        first.pk,
    ]
    assert shown(ada_client.patch(url, {"content": "Text only changes"})) == [second.pk, first.pk]
    assert shown(ada_client.patch(url, {"media_ids": [str(third.pk), str(first.pk)]})) == [
        third.pk,
        first.pk,
    ]
    second.refresh_from_db()
    assert second.post_id is None  # taken off: an unattached upload again
    assert shown(ada_client.patch(url, {"media_ids": []})) == []
    assert not MediaAttachment.objects.filter(post_id=post_id).exists()


def test_at_most_four_pictures_each_once(ada: User, ada_client: APIClient) -> None:
    uploads = [str(upload_for(ada).pk) for _ in range(5)]
    assert error_code(post_with(ada_client, uploads), 400) == "invalid"
    assert error_code(post_with(ada_client, [uploads[0], uploads[0]]), 400) == "duplicate_media"
    assert not Post.objects.exists()
    assert not MediaAttachment.objects.exclude(post=None).exists()


def test_only_ones_own_unattached_uploads_can_be_attached(ada: User, ada_client: APIClient) -> None:
    someone_elses = upload_for(UserFactory.create())
    on_another_post = upload_for(ada)
    post_with(ada_client, [str(on_another_post.pk)])
    for media_id in (someone_elses.pk, on_another_post.pk, 123456789):
        answer = post_with(ada_client, [str(media_id)])
        assert error_code(answer, 400) == "unknown_media", media_id
        assert "media_ids" in answer.json()["fields"]
    someone_elses.refresh_from_db()
    assert someone_elses.post_id is None
    assert Post.objects.count() == 1


@pytest.mark.parametrize("media_ids", [["x"], [""], ["-1"], ["99999999999999999999"], [1.5], "7"])
def test_media_ids_that_are_not_ids_are_refused(ada_client: APIClient, media_ids: Any) -> None:
    answer = post_with(ada_client, media_ids)
    assert answer.status_code == 400, answer.content
    assert "media_ids" in answer.json()["fields"]


def test_two_posts_racing_for_one_upload_get_it_once(transactional_db: None) -> None:
    ada = UserFactory.create()
    upload = upload_for(ada)
    body = {"title": "Mine", "content": "Mine", "media_ids": [str(upload.pk)]}
    statuses = run_together(
        [Call(client_for(ada), "post", "/api/posts/", body) for _ in range(THREADS // 2)]
    )
    assert sorted(statuses) == [201] + [400] * (THREADS // 2 - 1)
    upload.refresh_from_db()
    assert upload.post is not None
    assert MediaAttachment.objects.exclude(post=None).count() == 1


# --- Deleting -------------------------------------------------------------------------------


def test_an_unattached_upload_can_be_deleted_with_its_files(
    ada: User,
    ada_client: APIClient,
    media_root: Path,
    django_capture_on_commit_callbacks: CommitCallbacks,
) -> None:
    upload = upload_for(ada)
    names = [upload.file.name, upload.preview.name]
    assert all(default_storage.exists(name) for name in names)
    with django_capture_on_commit_callbacks(execute=True):
        assert ada_client.delete(f"/api/media/{upload.pk}/").status_code == 204
    assert not any(default_storage.exists(name) for name in names)
    assert ada_client.get(f"/api/media/{upload.pk}/").status_code == 404


def test_an_attached_upload_goes_with_its_post(
    ada: User, ada_client: APIClient, django_capture_on_commit_callbacks: CommitCallbacks
) -> None:
    upload = upload_for(ada)
    post_id = post_with(ada_client, [str(upload.pk)]).json()["id"]
    answer = ada_client.delete(f"/api/media/{upload.pk}/")
    assert error_code(answer, 400) == "media_attached"
    assert default_storage.exists(upload.file.name)
    with django_capture_on_commit_callbacks(execute=True):
        assert ada_client.delete(f"/api/posts/{post_id}/").status_code == 204
    assert not MediaAttachment.objects.exists()
    assert not default_storage.exists(upload.file.name)
    assert not default_storage.exists(upload.preview.name)


def test_deleting_an_account_deletes_its_uploads(
    ada: User, ada_client: APIClient, django_capture_on_commit_callbacks: CommitCallbacks
) -> None:
    attached, loose = upload_for(ada), upload_for(ada)
    post_with(ada_client, [str(attached.pk)])
    kept = upload_for(UserFactory.create())
    with django_capture_on_commit_callbacks(execute=True):
        answer = ada_client.delete("/api/me/", {"password": TEST_PASSWORD})
    assert answer.status_code == 204, answer.content
    for gone in (attached, loose):
        assert not default_storage.exists(gone.file.name)
        assert not default_storage.exists(gone.preview.name)
    assert list(MediaAttachment.objects.all()) == [kept]
    assert default_storage.exists(kept.file.name)


def test_expire_media_deletes_old_unattached_uploads_only(
    ada: User, django_capture_on_commit_callbacks: CommitCallbacks
) -> None:
    old_loose, new_loose, old_attached = upload_for(ada), upload_for(ada), upload_for(ada)
    post = PostFactory.create(author=ada)
    MediaAttachment.objects.filter(pk=old_attached.pk).update(post=post, position=0)
    a_day_ago = timezone.now() - timedelta(hours=25)
    MediaAttachment.objects.filter(pk__in=[old_loose.pk, old_attached.pk]).update(
        created_at=a_day_ago
    )
    output = io.StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("expire_media", stdout=output)
    assert "Deleted 1 unattached uploads" in output.getvalue()
    assert set(MediaAttachment.objects.values_list("pk", flat=True)) == {
        new_loose.pk,
        old_attached.pk,
    }
    assert not default_storage.exists(old_loose.file.name)
    assert default_storage.exists(new_loose.file.name)
    assert default_storage.exists(old_attached.file.name)


def test_the_export_lists_ones_uploads_and_where_they_are(ada: User, ada_client: APIClient) -> None:
    attached, loose = upload_for(ada, description="On a post"), upload_for(ada)
    post_id = post_with(ada_client, [str(attached.pk)]).json()["id"]
    upload_for(UserFactory.create())  # someone else's
    exported = ada_client.get("/api/me/export/").json()["media"]
    assert [(item["id"], item["post_id"]) for item in exported] == [
        (str(attached.pk), post_id),
        (str(loose.pk), None),
    ]
    assert exported[0]["description"] == "On a post"
    assert served(exported[1]["url"])


# --- Large uploads, processed in the background ----------------------------------------------

LARGE = (120, 80)  # more pixels than the tests' MEDIA_BACKGROUND_PIXELS


@pytest.fixture
def background_above(settings: Any) -> int:
    """Uploads of more than 100 x 50 pixels go to the background in these tests."""
    settings.MEDIA_BACKGROUND_PIXELS = 100 * 50
    return int(settings.MEDIA_BACKGROUND_PIXELS)


def processing_upload(owner: User, image: bytes | None = None) -> MediaAttachment:
    """A large upload of `owner`'s, answered and not yet processed (its run is queued on the
    commit of the test's transaction, which never comes)."""
    media = upload_for(owner, image or image_bytes("PNG", LARGE))
    assert media.state == MediaState.PROCESSING
    return media


def test_a_large_upload_is_answered_202_and_becomes_ready_by_itself(
    transactional_db: None, background_above: int, media_root: Path
) -> None:
    ada = UserFactory.create()
    client = client_for(ada)
    photo = Image.open(io.BytesIO(camera_photo())).resize(LARGE)
    output = io.BytesIO()
    photo.save(output, format="JPEG", exif=Image.open(io.BytesIO(camera_photo())).getexif())
    files_before = stored_files(media_root)

    answer = send_upload(client, output.getvalue(), description="A flag")
    assert answer.status_code == 202, answer.content
    media = answer.json()
    assert media["state"] == "processing"
    assert [media[field] for field in ("url", "preview_url", "width", "blurhash")] == [None] * 4
    assert media["description"] == "A flag"
    # Kept as received meanwhile (GPS and all), where Plaza never serves it.
    (original,) = stored_files(media_root) - files_before
    assert original.startswith("pending/")
    assert APIClient().get(f"/media/{original}").status_code == 404
    assert APIClient().get(f"/media/attachments/../{original}").status_code == 404

    assert answer_thread.wait_until_idle(timeout=30)
    ready = client.get(f"/api/media/{media['id']}/").json()
    assert ready["state"] == "ready"
    assert ready["failure"] is None
    assert (ready["width"], ready["height"]) == (80, 120)  # turned upright, as at once
    stored_bytes = served(ready["url"])
    assert b"PlazaCam" not in stored_bytes
    assert not Image.open(io.BytesIO(stored_bytes)).getexif()
    assert served(ready["preview_url"])
    assert len(ready["blurhash"]) > 6
    assert stored_files(media_root) - files_before == {
        name.split("/media/", 1)[1] for name in (ready["url"], ready["preview_url"])
    }
    post = client.post(
        "/api/posts/", {"title": "t", "content": "c", "media_ids": [media["id"]]}, format="json"
    )
    assert post.status_code == 201, post.content
    assert post.json()["media_attachments"][0]["state"] == "ready"


def test_an_upload_still_processing_cannot_be_attached(
    ada: User, ada_client: APIClient, background_above: int
) -> None:
    media = processing_upload(ada)
    answer = ada_client.post(
        "/api/posts/", {"title": "t", "content": "c", "media_ids": [str(media.pk)]}, format="json"
    )
    assert error_code(answer, 400) == "media_not_ready"
    assert answer.json()["fields"]["media_ids"]
    assert not Post.objects.exists()


def test_the_database_refuses_an_unfinished_upload_on_a_post(
    ada: User, background_above: int
) -> None:
    media = processing_upload(ada)
    media.post, media.position = PostFactory.create(author=ada), 0
    with pytest.raises(IntegrityError), transaction.atomic():
        media.save()


def test_pixels_that_fail_behind_a_good_header_leave_the_upload_failed(
    ada: User,
    ada_client: APIClient,
    background_above: int,
    media_root: Path,
    django_capture_on_commit_callbacks: CommitCallbacks,
) -> None:
    """The header passed, so the upload was answered 202; the decoding found it truncated.
    The upload says so with the code an upload processed at once is refused with."""
    files_before = stored_files(media_root)
    media = processing_upload(ada, image_bytes("PNG", LARGE)[:-200])

    with django_capture_on_commit_callbacks(execute=True):
        media_process(media_id=media.pk)

    failed = ada_client.get(f"/api/media/{media.pk}/").json()
    assert (failed["state"], failed["failure"], failed["url"]) == ("failed", "corrupt_image", None)
    assert stored_files(media_root) == files_before  # the original is gone
    answer = ada_client.post(
        "/api/posts/", {"title": "t", "content": "c", "media_ids": [str(media.pk)]}, format="json"
    )
    assert error_code(answer, 400) == "media_not_ready"
    assert ada_client.delete(f"/api/media/{media.pk}/").status_code == 204


def test_a_second_run_of_the_same_upload_does_nothing(
    ada: User, background_above: int, media_root: Path
) -> None:
    media = processing_upload(ada)
    media_process(media_id=media.pk)
    media.refresh_from_db()
    files = stored_files(media_root)
    assert (media.state, media.attempts) == (MediaState.READY, 1)

    media_process(media_id=media.pk)  # the sweep queued it again meanwhile, say

    media.refresh_from_db()
    assert media.attempts == 1
    assert stored_files(media_root) == files


def test_an_upload_deleted_while_it_is_processed_leaves_no_file(
    ada: User,
    ada_client: APIClient,
    background_above: int,
    media_root: Path,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: CommitCallbacks,
) -> None:
    files_before = stored_files(media_root)
    media = processing_upload(ada)
    process = media_services.process_image

    def deleted_meanwhile(*args: Any) -> Any:
        with django_capture_on_commit_callbacks(execute=True):  # the deletion commits
            assert ada_client.delete(f"/api/media/{media.pk}/").status_code == 204
        return process(*args)

    monkeypatch.setattr(media_services, "process_image", deleted_meanwhile)
    media_process(media_id=media.pk)

    assert not MediaAttachment.objects.filter(pk=media.pk).exists()
    assert stored_files(media_root) == files_before


def test_a_run_while_another_holds_the_lease_does_nothing(
    ada: User, background_above: int, media_root: Path
) -> None:
    media = processing_upload(ada)
    started = timezone.now() - timedelta(minutes=1)
    MediaAttachment.objects.filter(pk=media.pk).update(attempts=1, attempted_at=started)
    files = stored_files(media_root)

    media_process(media_id=media.pk)  # queued twice (a redelivery), the first still running

    media.refresh_from_db()
    assert (media.state, media.attempts, media.attempted_at) == (
        MediaState.PROCESSING,
        1,
        started,
    )
    assert stored_files(media_root) == files


def test_deleting_an_upload_loaded_before_its_processing_finished_deletes_its_new_files(
    ada: User,
    background_above: int,
    media_root: Path,
    django_capture_on_commit_callbacks: CommitCallbacks,
) -> None:
    """The API loads the upload, its processing commits, then the deletion runs: what is
    deleted is what the row names by then."""
    files_before = stored_files(media_root)
    loaded = processing_upload(ada)
    with django_capture_on_commit_callbacks(execute=True):
        media_process(media_id=loaded.pk)
    assert not loaded.file  # the copy the API holds is from before

    with django_capture_on_commit_callbacks(execute=True):
        media_services.media_delete(media=loaded)

    assert stored_files(media_root) == files_before


def test_a_database_error_while_finishing_leaves_no_file_and_the_run_to_retry(
    ada: User, background_above: int, media_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    media = processing_upload(ada)
    files = stored_files(media_root)

    def database_gone(*_args: object) -> bool:
        raise OperationalError("database is locked")

    monkeypatch.setattr(media_services, "_finish_processing", database_gone)
    with pytest.raises(OperationalError):
        media_process(media_id=media.pk)

    assert stored_files(media_root) == files  # the original only
    media.refresh_from_db()
    assert media.state == MediaState.PROCESSING  # for the sweep, after the lease


def test_a_finish_that_committed_before_its_error_keeps_its_files(
    ada: User, background_above: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The UPDATE committed, then the connection dropped before its answer: the row names
    the new files, so they stay."""
    media = processing_upload(ada)
    finish = media_services._finish_processing

    def committed_then_lost(*args: Any) -> bool:
        finish(*args)
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(media_services, "_finish_processing", committed_then_lost)
    with pytest.raises(OperationalError):
        media_process(media_id=media.pk)

    media.refresh_from_db()
    assert media.state == MediaState.READY
    assert default_storage.exists(media.file.name)
    assert default_storage.exists(media.preview.name)


def test_only_the_folders_of_published_files_are_served(
    ada: User, media_root: Path, background_above: int
) -> None:
    (media_root / "operator-notes.txt").write_text("not for anyone")
    original = processing_upload(ada).original.name
    for path in (
        "operator-notes.txt",
        original,
        f"attachments/../{original}",
        f"attachments/%2e%2e/{original}",
        original.replace("/", "%5c"),
    ):
        assert APIClient().get(f"/media/{path}").status_code == 404, path
    published = upload_for(ada, image_bytes())  # for contrast
    assert APIClient().get(published.file.url).status_code == 200


def test_deleting_an_account_deletes_its_uploads_waiting_for_the_background(
    ada: User,
    ada_client: APIClient,
    background_above: int,
    media_root: Path,
    django_capture_on_commit_callbacks: CommitCallbacks,
) -> None:
    files_before = stored_files(media_root)
    processing_upload(ada)
    with django_capture_on_commit_callbacks(execute=True):
        answer = ada_client.delete("/api/me/", {"password": TEST_PASSWORD})
    assert answer.status_code == 204, answer.content
    assert stored_files(media_root) == files_before


def lost_upload(owner: User, monkeypatch: pytest.MonkeyPatch) -> MediaAttachment:
    """A large upload whose run was lost on the way (the broker was down when it was queued),
    made 11 minutes ago: past PROCESSING_LEASE."""

    def broker_down(*_args: object) -> None:
        raise OperationalError("Error 111 connecting to the broker")

    with monkeypatch.context() as broker:
        broker.setattr(media_tasks.process_media, "delay", broker_down)
        lost = processing_upload(owner)
        assert answer_thread.wait_until_idle(timeout=30)
    MediaAttachment.objects.filter(pk=lost.pk).update(
        created_at=timezone.now() - timedelta(minutes=11)
    )
    return lost


def test_the_sweep_queues_a_lost_run_again_and_gives_up_after_three(
    transactional_db: None, background_above: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run lost on the way (as here, a broker that was down when it was queued; or a worker
    killed, or the embedded server restarted, while it ran) leaves the upload processing: a
    sweep after PROCESSING_LEASE queues it again."""
    ada = UserFactory.create()
    lost, running = lost_upload(ada, monkeypatch), lost_upload(ada, monkeypatch)
    long_ago = timezone.now() - timedelta(minutes=11)
    # Started a minute ago, by a run that is still going: left alone.
    MediaAttachment.objects.filter(pk=running.pk).update(
        attempts=1, attempted_at=timezone.now() - timedelta(minutes=1)
    )

    assert media_requeue_stalled() == 1
    assert answer_thread.wait_until_idle(timeout=30)
    lost.refresh_from_db()
    assert (lost.state, lost.attempts) == (MediaState.READY, 1)
    running.refresh_from_db()
    assert (running.state, running.attempts) == (MediaState.PROCESSING, 1)

    MediaAttachment.objects.filter(pk=running.pk).update(
        attempts=PROCESSING_ATTEMPTS, attempted_at=long_ago
    )
    original = running.original.name
    assert media_requeue_stalled() == 1
    running.refresh_from_db()
    assert (running.state, running.failure) == (MediaState.FAILED, "processing_failed")
    assert not running.original
    assert not default_storage.exists(original)


def test_expire_media_from_cron_queues_a_lost_run_again(
    transactional_db: None, background_above: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    lost = lost_upload(UserFactory.create(), monkeypatch)
    out = io.StringIO()

    call_command("expire_media", stdout=out)

    assert "Queued again, or gave up on, 1 lost background runs." in out.getvalue()
    assert answer_thread.wait_until_idle(timeout=30)
    lost.refresh_from_db()
    assert lost.state == MediaState.READY


def test_an_upload_that_expires_while_processing_takes_its_original_along(
    ada: User,
    background_above: int,
    media_root: Path,
    django_capture_on_commit_callbacks: CommitCallbacks,
) -> None:
    files_before = stored_files(media_root)
    media = processing_upload(ada)
    # Its last run is still going (the sweep leaves it alone) when the upload expires.
    MediaAttachment.objects.filter(pk=media.pk).update(
        created_at=timezone.now() - timedelta(hours=25), attempts=1, attempted_at=timezone.now()
    )
    with django_capture_on_commit_callbacks(execute=True):
        call_command("expire_media", stdout=io.StringIO())
    assert not MediaAttachment.objects.filter(pk=media.pk).exists()
    assert stored_files(media_root) == files_before


# --- Avatars and headers --------------------------------------------------------------------


def put_image(client: APIClient, which: str, content: bytes) -> Any:
    file = SimpleUploadedFile("me.jpg", content, "image/jpeg")
    return client.put(f"/api/me/{which}/", {"file": file}, format="multipart")


@pytest.mark.parametrize(("which", "size"), [("avatar", (400, 400)), ("header", (1500, 500))])
def test_avatar_and_header_are_cropped_to_their_size_without_metadata(
    ada: User, ada_client: APIClient, which: str, size: tuple[int, int]
) -> None:
    answer = put_image(ada_client, which, camera_photo())
    assert answer.status_code == 200, answer.content
    url = answer.json()[which]
    assert url.startswith(f"http://testserver/media/{which}s/")
    stored_bytes = served(url)
    stored = Image.open(io.BytesIO(stored_bytes))
    assert stored.size == size
    assert not stored.getexif()
    assert b"PlazaCam" not in stored_bytes
    profile = APIClient().get("/api/users/ada/").json()
    assert profile[which] == url
    if which == "avatar":  # and wherever the account appears
        post = PostFactory.create(author=ada)
        assert APIClient().get(f"/api/posts/{post.pk}/").json()["author"]["avatar"] == url


def test_an_animated_avatar_keeps_its_first_frame(ada_client: APIClient) -> None:
    frames = [Image.new("RGB", (40, 40), color) for color in ("red", "blue")]
    output = io.BytesIO()
    frames[0].save(output, format="GIF", save_all=True, append_images=frames[1:])
    answer = put_image(ada_client, "avatar", output.getvalue())
    assert answer.status_code == 200, answer.content
    stored = Image.open(io.BytesIO(served(answer.json()["avatar"])))
    assert (stored.format, getattr(stored, "n_frames", 1)) == ("PNG", 1)
    assert stored.convert("RGB").getpixel((200, 200)) == (255, 0, 0)


def test_a_new_avatar_replaces_the_old_file_and_removing_it_deletes_it(
    ada: User, ada_client: APIClient, django_capture_on_commit_callbacks: CommitCallbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        put_image(ada_client, "avatar", image_bytes("PNG", (50, 50)))
    first = User.objects.get(pk=ada.pk).avatar.name
    with django_capture_on_commit_callbacks(execute=True):
        put_image(ada_client, "avatar", image_bytes("JPEG", (60, 60)))
    second = User.objects.get(pk=ada.pk).avatar.name
    assert first != second
    assert not default_storage.exists(first)
    assert default_storage.exists(second)
    with django_capture_on_commit_callbacks(execute=True):
        assert ada_client.delete("/api/me/avatar/").status_code == 204
    assert ada_client.get("/api/me/").json()["avatar"] is None
    assert not default_storage.exists(second)


def test_a_refused_avatar_leaves_the_old_one(ada: User, ada_client: APIClient) -> None:
    put_image(ada_client, "avatar", image_bytes())
    before = User.objects.get(pk=ada.pk).avatar.name
    answer = put_image(ada_client, "avatar", SVG)
    assert error_code(answer, 400) == "unsupported_image_type"
    assert User.objects.get(pk=ada.pk).avatar.name == before


def test_deleting_an_account_deletes_its_avatar_and_header(
    ada: User, ada_client: APIClient, django_capture_on_commit_callbacks: CommitCallbacks
) -> None:
    put_image(ada_client, "avatar", image_bytes())
    put_image(ada_client, "header", image_bytes())
    ada.refresh_from_db()
    names = [ada.avatar.name, ada.header.name]
    assert all(default_storage.exists(name) for name in names)
    with django_capture_on_commit_callbacks(execute=True):
        assert ada_client.delete("/api/me/", {"password": TEST_PASSWORD}).status_code == 204
    assert not any(default_storage.exists(name) for name in names)


def test_an_accounts_posts_with_pictures_alone(ada: User, ada_client: APIClient) -> None:
    with_picture = post_with(ada_client, [str(upload_for(ada).pk)]).json()["id"]
    PostFactory.create(author=ada)  # text only
    PostFactory.create(author=UserFactory.create())
    post_with(client_for(UserFactory.create(username="grace")), [])
    listed = APIClient().get("/api/posts/", {"author": "ada", "only_media": "true"}).json()
    assert [post["id"] for post in listed["results"]] == [with_picture]
    everyone = APIClient().get("/api/posts/", {"only_media": "true"}).json()
    assert [post["id"] for post in everyone["results"]] == [with_picture]
    assert len(APIClient().get("/api/posts/", {"author": "ada"}).json()["results"]) == 2
    refused = APIClient().get("/api/posts/", {"only_media": "sometimes"})
    assert "only_media" in refused.json()["fields"]


def test_an_upload_whose_row_cannot_be_made_leaves_no_file(
    ada: User, media_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def database_gone(**_fields: object) -> None:
        raise OperationalError("the database went away")

    files_before = stored_files(media_root)
    monkeypatch.setattr(MediaAttachment.objects, "create", database_gone)
    with pytest.raises(OperationalError):
        upload_for(ada)
    assert stored_files(media_root) == files_before


def test_each_upload_sweeps_the_expired_ones_after_its_answer(
    transactional_db: None, media_root: Path
) -> None:
    """Without a cron job: the sweep is queued by every upload, and runs after the answer
    (on the background thread in the embedded default)."""
    ada = UserFactory.create()
    expired, recent = upload_for(ada), upload_for(ada)
    MediaAttachment.objects.filter(pk=expired.pk).update(
        created_at=timezone.now() - timedelta(hours=25)
    )
    assert send_upload(client_for(ada), image_bytes()).status_code == 201
    assert answer_thread.wait_until_idle(timeout=30)
    assert set(MediaAttachment.objects.values_list("pk", flat=True)) == {
        recent.pk,
        MediaAttachment.objects.latest("pk").pk,
    }
    assert not default_storage.exists(expired.file.name)
    assert default_storage.exists(recent.file.name)


def gif_whose_frames_outgrow_its_header(frames: int, side: int) -> bytes:
    """A GIF that says it is 1x1 (its header and first frame) and then draws frames of
    side x side: Pillow grows the canvas frame by frame as it decodes them."""
    first = Image.new("RGB", (1, 1), (255, 0, 0))
    larger = [Image.new("RGB", (side, side), (n * 20 % 256, 0, 0)) for n in range(1, frames)]
    output = io.BytesIO()
    first.save(output, format="GIF", save_all=True, append_images=larger)
    return output.getvalue()


def test_an_animation_that_outgrows_its_header_is_refused(
    ada_client: APIClient, media_root: Path
) -> None:
    bomb = gif_whose_frames_outgrow_its_header(frames=12, side=2000)
    assert Image.open(io.BytesIO(bomb)).size == (1, 1)  # what the header says
    files_before = stored_files(media_root)
    answer = send_upload(ada_client, bomb, name="small.gif")
    assert error_code(answer, 400) == "image_too_large"
    assert stored_files(media_root) == files_before


def test_an_animations_comment_is_gone(ada_client: APIClient) -> None:
    frames = [Image.new("RGB", (20, 20), color) for color in ("red", "blue")]
    output = io.BytesIO()
    frames[0].save(
        output, format="GIF", save_all=True, append_images=frames[1:], comment=b"secret note"
    )
    assert b"secret note" in output.getvalue()
    answer = send_upload(ada_client, output.getvalue())
    assert answer.status_code == 201, answer.content
    assert b"secret note" not in served(answer.json()["url"])


def test_a_multi_picture_jpeg_is_stored_as_its_first_picture(ada_client: APIClient) -> None:
    """MPO: what many cameras and phones write (a JPEG with more pictures after it)."""
    pictures = [Image.new("RGB", (40, 30), color) for color in ("red", "blue")]
    output = io.BytesIO()
    pictures[0].save(output, format="MPO", save_all=True, append_images=pictures[1:])
    assert Image.open(io.BytesIO(output.getvalue())).format == "MPO"
    answer = send_upload(ada_client, output.getvalue(), name="DSC0001.JPG")
    assert answer.status_code == 201, answer.content
    stored = Image.open(io.BytesIO(served(answer.json()["url"])))
    assert (stored.format, stored.size) == ("JPEG", (40, 30))
    red, green, blue = cast(tuple[int, int, int], stored.convert("RGB").getpixel((20, 15)))
    assert red > 200 > max(green, blue)  # the first picture, red


def iphone_photo(mode: str = "RGB") -> bytes:
    """A HEIC as an iPhone writes one: rotated to view (HEIF's own rotation, which libheif
    applies), with the camera's make and where it was taken in its EXIF."""
    image = Image.new(mode, (30, 20), (200, 120, 40, 255)[: len(mode)])
    image.paste((20, 40, 200, 128)[: len(mode)], (0, 0, 10, 20))
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to view
    exif[0x010F] = "PlazaCam"
    exif[0x8825] = {1: "N", 2: (52.0, 31.0, 12.0), 3: "E", 4: (13.0, 24.0, 30.0)}  # GPS
    output = io.BytesIO()
    image.save(output, format="HEIF", exif=exif.tobytes(), quality=90)
    return output.getvalue()


def test_an_iphone_photo_is_stored_upright_as_a_jpeg_without_its_metadata(
    ada_client: APIClient,
) -> None:
    photo = iphone_photo()
    assert photo[4:12] == b"ftypheic"
    assert b"PlazaCam" in photo
    answer = send_upload(ada_client, photo, name="IMG_0001.HEIC")
    assert answer.status_code == 201, answer.content
    media = answer.json()
    assert media["url"].endswith(".jpg")
    assert (media["width"], media["height"]) == (20, 30)  # upright
    for url in (media["url"], media["preview_url"]):  # the preview is as small already
        stored_bytes = served(url)
        stored = Image.open(io.BytesIO(stored_bytes))
        assert (stored.format, stored.size) == ("JPEG", (20, 30))
        assert not stored.getexif()
        assert b"PlazaCam" not in stored_bytes
    # The blue strip on the sensor's left is at the top once upright.
    upright = Image.open(io.BytesIO(served(media["url"]))).convert("RGB")
    red, _green, blue = cast(tuple[int, int, int], upright.getpixel((10, 2)))
    assert blue > 150 > red


def test_a_16_bit_grey_png_keeps_its_tones(ada_client: APIClient) -> None:
    """Pillow opens it as I;16; converted to 8 bits unscaled, every tone would be white."""
    grey = Image.new("I;16", (40, 30), 30_000)  # 46% of the 16-bit range
    output = io.BytesIO()
    grey.save(output, format="PNG")
    answer = send_upload(ada_client, output.getvalue())
    assert answer.status_code == 201, answer.content
    stored = Image.open(io.BytesIO(served(answer.json()["url"]))).convert("L")
    assert stored.getpixel((20, 15)) == 30_000 // 256


def test_a_heic_with_transparency_is_stored_as_a_png(ada_client: APIClient) -> None:
    answer = send_upload(ada_client, iphone_photo("RGBA"))
    assert answer.status_code == 201, answer.content
    stored = Image.open(io.BytesIO(served(answer.json()["url"])))
    assert (stored.format, stored.mode) == ("PNG", "RGBA")


def test_a_heic_avatar_is_cropped_and_stored_as_a_jpeg(ada_client: APIClient) -> None:
    answer = put_image(ada_client, "avatar", iphone_photo())
    assert answer.status_code == 200, answer.content
    stored_bytes = served(answer.json()["avatar"])
    assert Image.open(io.BytesIO(stored_bytes)).format == "JPEG"
    assert b"PlazaCam" not in stored_bytes


def test_a_truncated_heic_is_refused(ada_client: APIClient, media_root: Path) -> None:
    files_before = stored_files(media_root)
    answer = send_upload(ada_client, iphone_photo()[:-100], name="IMG_0002.HEIC")
    assert error_code(answer, 400) == "corrupt_image"
    assert stored_files(media_root) == files_before


def test_a_store_that_fails_to_delete_the_old_avatar_keeps_the_new_one(
    ada: User,
    ada_client: APIClient,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: CommitCallbacks,
    caplog: pytest.LogCaptureFixture,
) -> None:
    put_image(ada_client, "avatar", image_bytes())
    old = User.objects.get(pk=ada.pk).avatar.name

    def refuse(name: str) -> None:
        raise OSError("the store refused")

    monkeypatch.setattr(default_storage, "delete", refuse)
    with django_capture_on_commit_callbacks(execute=True):
        answer = put_image(ada_client, "avatar", image_bytes("JPEG"))
    assert answer.status_code == 200, answer.content
    new = User.objects.get(pk=ada.pk).avatar.name
    assert new != old
    assert default_storage.exists(new)  # the new file, which the account names, stays
    assert "Could not delete the stored file" in caplog.text
