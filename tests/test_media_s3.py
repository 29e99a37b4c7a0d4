"""Uploads in S3-compatible object storage (S3_BUCKET), against a real S3 server on loopback
(moto's server mode, started here): what is uploaded is stored and served by the store, and
what is deleted (with its upload, its post, its account, or by the expiry sweep) leaves it.
Then a Plaza server started with the S3 settings, as an operator would, does the same, and
processes large uploads in the background: on its own thread in one process, on a Celery
worker in the distributed mode."""

import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3  # type: ignore[import-untyped]
import pytest
import requests
from botocore.exceptions import ClientError  # type: ignore[import-untyped]
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from rest_framework.test import APIClient

from plaza.accounts.models import User
from plaza.media.models import MediaAttachment
from tests.factories import TEST_PASSWORD, UserFactory, image_bytes
from tests.helpers import client_for
from tests.servers import (
    Server,
    free_port,
    migrate,
    server_environment,
    sign_up,
    start_redis,
    start_server,
    start_worker,
    stop_redis,
    stop_server,
    stop_worker,
)

pytestmark = pytest.mark.django_db

BUCKET = "plaza-media"
KEYS = {"aws_access_key_id": "plaza", "aws_secret_access_key": "plaza-secret"}
CommitCallbacks = Any
PUBLIC_READ = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{BUCKET}/*",
        }
    ],
}


def wait_for(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the S3 server exited: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - our loopback server
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"the S3 server did not answer in 30 s: {log.read_text()[-2000:]}")


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """moto's S3 server on a free loopback port, with an empty bucket."""
    port = free_port()
    log = tmp_path_factory.mktemp("s3") / "moto.log"
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 - the venv's own moto, fixed arguments
            [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{endpoint}/moto-api/", process, log)
        client = s3_client(endpoint)
        client.create_bucket(Bucket=BUCKET)
        # Files are public by URL: the bucket lets anyone read its objects, as
        # docs/deployment.md asks of an operator's bucket.
        client.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps(PUBLIC_READ))
        yield endpoint
    finally:
        process.terminate()
        process.wait(timeout=10)


def s3_client(endpoint: str) -> Any:
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **KEYS)


def stored_keys(endpoint: str) -> set[str]:
    listed = s3_client(endpoint).list_objects_v2(Bucket=BUCKET)
    return {item["Key"] for item in listed.get("Contents", [])}


def s3_storages(endpoint: str) -> dict[str, Any]:
    """The STORAGES that config/settings.py makes of the S3_* variables (tests/test_settings.py
    holds it to them), with this server's endpoint."""
    return {
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": BUCKET,
                "endpoint_url": endpoint,
                "region_name": "us-east-1",
                "access_key": KEYS["aws_access_key_id"],
                "secret_key": KEYS["aws_secret_access_key"],
                "querystring_auth": False,
                "file_overwrite": True,
                "object_parameters": {"CacheControl": "public, max-age=31536000, immutable"},
            },
        },
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture
def in_s3(s3_endpoint: str) -> Iterator[str]:
    with override_settings(STORAGES=s3_storages(s3_endpoint)):
        yield s3_endpoint


def upload(client: APIClient, content: bytes) -> Any:
    file = SimpleUploadedFile("photo.png", content, "image/png")
    answer = client.post("/api/media/", {"file": file}, format="multipart")
    assert answer.status_code == 201, answer.content
    return answer.json()


def test_uploads_are_stored_and_served_by_the_object_store(in_s3: str) -> None:
    client = client_for(UserFactory.create())
    media = upload(client, image_bytes("PNG", (64, 48)))
    assert media["url"].startswith(f"{in_s3}/{BUCKET}/attachments/")
    fetched = requests.get(media["url"], timeout=10)
    assert fetched.status_code == 200
    assert fetched.headers["Content-Type"] == "image/png"
    assert fetched.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert fetched.content.startswith(b"\x89PNG")
    assert requests.get(media["preview_url"], timeout=10).headers["Content-Type"] == "image/jpeg"


def test_deletions_remove_the_objects(
    in_s3: str, django_capture_on_commit_callbacks: CommitCallbacks
) -> None:
    ada = UserFactory.create()
    client = client_for(ada)
    before = stored_keys(in_s3)
    loose = upload(client, image_bytes())
    attached = upload(client, image_bytes())
    kept = upload(client, image_bytes())
    post = client.post(
        "/api/posts/", {"title": "t", "content": "c", "media_ids": [attached["id"]]}
    ).json()
    avatar = client.put(
        "/api/me/avatar/",
        {"file": SimpleUploadedFile("me.png", image_bytes(), "image/png")},
        format="multipart",
    )
    assert avatar.status_code == 200, avatar.content
    assert len(stored_keys(in_s3) - before) == 7  # three uploads with previews, an avatar

    def names(media: dict[str, Any]) -> set[str]:
        row = MediaAttachment.objects.get(pk=media["id"])
        return {row.file.name, row.preview.name}

    loose_names, attached_names, kept_names = names(loose), names(attached), names(kept)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.delete(f"/api/media/{loose['id']}/").status_code == 204
        assert client.delete(f"/api/posts/{post['id']}/").status_code == 204
    assert not (loose_names | attached_names) & stored_keys(in_s3)
    assert kept_names <= stored_keys(in_s3)
    avatar_name = User.objects.get(pk=ada.pk).avatar.name
    with django_capture_on_commit_callbacks(execute=True):
        assert client.delete("/api/me/", {"password": TEST_PASSWORD}).status_code == 204
    assert not (kept_names | {avatar_name}) & stored_keys(in_s3)
    with pytest.raises(ClientError):
        s3_client(in_s3).head_object(Bucket=BUCKET, Key=avatar_name)
    assert not default_storage.exists(avatar_name)


def s3_server_environment(s3_endpoint: str, tmp_path: Path, **overrides: str) -> dict[str, str]:
    """As an operator configures it: the S3_* variables, with MEDIA_SERVED_BY_PLAZA off by
    default, so that /media/ is not served by Plaza at all. Uploads of more than 100 x 100
    pixels are processed in the background."""
    environment = server_environment(
        **{
            "DATABASE_URL": f"sqlite:///{tmp_path / 'plaza.sqlite3'}",
            "REDIS_URL": "",
            "CACHE_URL": "",
            "EMAIL_URL": "consolemail://",
            **overrides,
        },
        S3_BUCKET=BUCKET,
        S3_ENDPOINT_URL=s3_endpoint,
        S3_REGION="us-east-1",
        S3_ACCESS_KEY_ID=KEYS["aws_access_key_id"],
        S3_SECRET_ACCESS_KEY=KEYS["aws_secret_access_key"],
        S3_PUBLIC_URL=f"{s3_endpoint}/{BUCKET}",
        MEDIA_BACKGROUND_PIXELS=str(100 * 100),
    )
    migrate(environment)
    return environment


def send_upload(server: Server, token: str, content: bytes) -> requests.Response:
    return requests.post(
        f"{server.http}/api/media/",
        headers={"Authorization": f"Token {token}"},
        files={"file": ("photo.jpg", content, "image/jpeg")},
        timeout=30,
    )


def ready_after_202(server: Server, token: str, content: bytes) -> dict[str, Any]:
    """Upload a large image and ask for it until its background processing has finished."""
    answer = send_upload(server, token, content)
    assert answer.status_code == 202, answer.text
    assert answer.json()["url"] is None
    deadline = time.monotonic() + 30
    while True:
        media: dict[str, Any] = requests.get(
            f"{server.http}/api/media/{answer.json()['id']}/",
            headers={"Authorization": f"Token {token}"},
            timeout=10,
        ).json()
        if media["state"] != "processing":
            return media
        assert time.monotonic() < deadline, f"still processing after 30 s: {media}"
        time.sleep(0.1)


def test_a_server_started_with_the_s3_settings_stores_there(
    s3_endpoint: str, tmp_path: Path
) -> None:
    """One process, the embedded default but for the storage: a large upload is processed on
    the server's own background thread, and finishes by itself."""
    environment = s3_server_environment(s3_endpoint, tmp_path)
    server: Server = start_server(environment, tmp_path / "server.log")
    try:
        token = sign_up(server, "ada")
        answer = send_upload(server, token, image_bytes("JPEG", (100, 100)))
        assert answer.status_code == 201, answer.text
        url = answer.json()["url"]
        assert url.startswith(f"{s3_endpoint}/{BUCKET}/attachments/")
        assert requests.get(url, timeout=10).content.startswith(b"\xff\xd8")
        path = url.removeprefix(f"{s3_endpoint}/{BUCKET}")
        assert requests.get(f"{server.http}/media{path}", timeout=10).status_code == 404

        media = ready_after_202(server, token, image_bytes("JPEG", (300, 200)))
        assert media["state"] == "ready", media
        assert (media["width"], media["height"]) == (300, 200)
        assert requests.get(media["url"], timeout=10).content.startswith(b"\xff\xd8")
        assert not [key for key in stored_keys(s3_endpoint) if key.startswith("pending/")]
    finally:
        stop_server(server)


@pytest.mark.redis  # in `make test-distributed`, where redis-server is known to be installed
def test_large_uploads_are_processed_by_a_celery_worker_in_the_distributed_mode(
    s3_endpoint: str, tmp_path: Path
) -> None:
    """The web process and the worker share only the database, Redis (a server of the
    test's own, so that no other test's tasks reach this worker) and the object store, as on
    two machines: the worker reads the original from the store and writes the renditions
    there. Without the worker nothing would process them: the web process queues to Redis."""
    redis = start_redis(tmp_path)
    try:
        environment = s3_server_environment(s3_endpoint, tmp_path, REDIS_URL=redis.url)
        server = start_server(environment, tmp_path / "server.log")
        worker = start_worker(environment, tmp_path / "worker.log")
        try:
            token = sign_up(server, "ada")
            media = ready_after_202(server, token, image_bytes("PNG", (400, 300)))
            assert media["state"] == "ready", media
            assert media["url"].endswith(".png")
            assert requests.get(media["preview_url"], timeout=10).status_code == 200
            truncated = ready_after_202(server, token, image_bytes("PNG", (400, 300))[:-300])
            assert (truncated["state"], truncated["failure"]) == ("failed", "corrupt_image")
            assert not [key for key in stored_keys(s3_endpoint) if key.startswith("pending/")]
        finally:
            stop_worker(worker)
            stop_server(server)
    finally:
        stop_redis(redis)
