"""Media benchmark (make bench-media; results in bench/README.md).

1. Processing: what checking and re-encoding one upload costs, by kind of image, each kind in
   a child process of its own so that its peak RSS is its own: the median time of a few runs,
   the process's RSS before processing (Django and Pillow loaded) and its peak while
   processing.
2. Uploads through `python -m config.serve` (as `make run` serves it, on a throwaway SQLite
   database), embedded and distributed (Redis, a Celery worker, moto's S3 server): a 2 MP
   photo sent by CLIENTS clients at once (uploads per second, latency), and a 40 MP photo,
   processed in the background (the time to its 202 and until it is ready).
3. The feed of a reader whose followed accounts put pictures on every post, against the same
   feed without pictures (wrk, one after the other, in the same run).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import FIRST_PORT, ROOT, VENV_BIN, WORK_DIR, BenchError, percentile, say, tail
from load import run_wrk
from probe import Endpoint
from processes import (
    base_env,
    celery_worker,
    free_port,
    redis_server,
    rss_mb,
    run_checked,
    start_logged,
    stop_group,
    wait_for_health,
)

CASES = {
    # name: (format, width, height, frames)
    "jpeg-2mp": ("JPEG", 1732, 1155, 1),
    "jpeg-12mp": ("JPEG", 4000, 3000, 1),
    "jpeg-40mp": ("JPEG", 7744, 5163, 1),
    "png-40mp": ("PNG", 7744, 5163, 1),
    "webp-12mp": ("WEBP", 4000, 3000, 1),
    "heic-12mp": ("HEIF", 4032, 3024, 1),  # an iPhone's photo
    "gif-300-frames": ("GIF", 480, 270, 300),
}
RUNS = 3
S3_BUCKET = "plaza-bench-media"
CHILD_MARKER = "PLAZA_MEDIA_RESULT "


def make_input(name: str, directory: Path) -> Path:
    """The case's input file, drawn once (plaza/operations/demo_pictures.py) and kept."""
    from PIL import Image
    from pillow_heif import register_heif_opener

    from plaza.operations.demo_pictures import landscape

    register_heif_opener()  # HEIF files can be written too
    image_format, width, height, frames = CASES[name]
    path = directory / f"{name}.{image_format.lower()}"
    if path.exists():
        return path
    drawn = Image.open(io.BytesIO(landscape(seed=len(name), size=(width, height))))
    # Grain, so that the file is as large as a camera's (a drawing compresses to nothing).
    grain = Image.effect_noise((width, height), 60).convert("RGB")
    picture = Image.blend(drawn.convert("RGB"), grain, 0.2)
    if frames == 1:
        picture.save(path, format=image_format)
    else:
        stills = [picture.rotate(angle * 360 / frames) for angle in range(frames)]
        stills[0].save(path, format=image_format, save_all=True, append_images=stills[1:])
    return path


def child(path: Path) -> dict[str, Any]:
    """Runs in the child: process the file RUNS times, read from disk as the server reads an
    upload (Django keeps one over 2.5 MB in a temporary file) and the worker an original;
    time and memory."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    from plaza.media.images import open_image, process_image
    from plaza.media.services import image_limits

    limits = image_limits()
    # From /proc: getrusage's maximum would start at the parent's, which drew the inputs.
    before = rss_mb(os.getpid(), "VmRSS") or 0.0
    timings = []
    for _ in range(RUNS):
        started = time.perf_counter()
        with path.open("rb") as upload:
            processed = process_image(open_image(upload, limits), limits)
        timings.append((time.perf_counter() - started) * 1000)
    peak = rss_mb(os.getpid(), "VmHWM") or 0.0
    return {
        "ms": statistics.median(timings),
        "rss_before_mb": before,
        "peak_rss_mb": peak,
        "stored": f"{processed.image.width}x{processed.image.height}",
        "bytes_in": path.stat().st_size,
        "bytes_out": len(processed.image.content),
    }


def measure_processing(directory: Path) -> list[dict[str, Any]]:
    results = []
    for name in CASES:
        path = make_input(name, directory)
        say(f"Processing {name} ({path.stat().st_size / 1e6:.1f} MB) in a child process")
        output = subprocess.run(  # noqa: S603 - this interpreter, this file
            [sys.executable, __file__, "child", str(path)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        lines = [line for line in output.stdout.splitlines() if line.startswith(CHILD_MARKER)]
        if output.returncode != 0 or not lines:
            raise BenchError(f"processing {name} failed:\n{output.stderr[-2000:]}")
        results.append({"case": name, **json.loads(lines[-1].removeprefix(CHILD_MARKER))})
    return results


def post_json(url: str, body: dict[str, Any], token: str | None = None) -> dict[str, Any]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Token {token}"
    request = urllib.request.Request(url, json.dumps(body).encode(), headers)  # noqa: S310
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback
        answer: dict[str, Any] = json.loads(response.read())
        return answer


def get_json(url: str, token: str) -> dict[str, Any]:
    request = urllib.request.Request(url, headers={"Authorization": f"Token {token}"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback
        answer: dict[str, Any] = json.loads(response.read())
        return answer


def upload(url: str, token: str, content: bytes) -> tuple[int, dict[str, Any], float]:
    """One multipart upload: the status, the answer and how long it took."""
    boundary = "plaza-bench-boundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="p.jpg"\r\n'
            f"Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    request = urllib.request.Request(  # noqa: S310 - our loopback server
        url,
        body,
        {
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Authorization": f"Token {token}",
        },
    )
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
        status = response.status
        answer: dict[str, Any] = json.loads(response.read())
    took = time.perf_counter() - started
    if status not in (201, 202):
        raise BenchError(f"upload answered {status}")
    return status, answer, took


@dataclass
class Stack:
    """A running Plaza: its API's base URL and what it is."""

    base: str
    description: str


@contextlib.contextmanager
def plaza_stack(directory: Path, mode: str) -> Iterator[Stack]:
    """Plaza through `python -m config.serve` (as `make run` serves it) on a throwaway SQLite
    database. `embedded`: one process, files on disk, large uploads processed on its own
    background thread. `distributed`: with a throwaway Redis as broker, a Celery worker
    (solo pool, as docs/deployment.md recommends) and an S3 server on loopback (moto's) as the
    store, which the web process and the worker share as two machines would."""
    work = Path(tempfile.mkdtemp(dir=directory))
    env = base_env(f"sqlite:///{work / 'plaza.sqlite3'}", [])
    env["MEDIA_ROOT"] = str(work / "media")
    run_checked([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], env, "migrate")
    with contextlib.ExitStack() as stack:
        description = "one process (config.serve), SQLite, files on disk"
        if mode == "distributed":
            redis = stack.enter_context(redis_server(work / "redis.log", FIRST_PORT + 40))
            env.update(REDIS_URL=redis.url, **stack.enter_context(s3_store(work)))
            stack.enter_context(celery_worker(env, work / "worker.log", redis, "solo", 1))
            description = "config.serve + Redis + one Celery worker (solo), SQLite, S3 (moto)"
        port = free_port(FIRST_PORT)
        say(f"Starting Plaza ({description}) on 127.0.0.1:{port}")
        log = work / "server.log"
        process = start_logged(
            [sys.executable, "-m", "config.serve", "--host", "127.0.0.1", "--port", str(port)],
            env,
            log,
        )
        stack.callback(stop_group, process)
        wait_for_health(process, port, log)
        yield Stack(f"http://127.0.0.1:{port}/api", description)


@contextlib.contextmanager
def s3_store(work: Path) -> Iterator[dict[str, str]]:
    """moto's S3 server on loopback with a bucket; the S3_* settings that point at it."""
    executable = VENV_BIN / "moto_server"
    if not executable.exists():
        raise BenchError("the distributed mode's store is moto's S3 server: make dev-venv first")
    port = free_port(FIRST_PORT + 60)
    process = start_logged(
        [str(executable), "-H", "127.0.0.1", "-p", str(port)], dict(os.environ), work / "s3.log"
    )
    try:
        endpoint = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                # Creating the bucket is the readiness check: an empty PUT to its name.
                request = urllib.request.Request(f"{endpoint}/{S3_BUCKET}", method="PUT")  # noqa: S310
                with urllib.request.urlopen(request, timeout=2):  # noqa: S310 - loopback
                    break
            except OSError as exc:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise BenchError(
                        f"the S3 server did not start: {tail(work / 's3.log')}"
                    ) from exc
                time.sleep(0.2)
        yield {
            "S3_BUCKET": S3_BUCKET,
            "S3_ENDPOINT_URL": endpoint,
            "S3_REGION": "us-east-1",
            "S3_ACCESS_KEY_ID": "bench",
            "S3_SECRET_ACCESS_KEY": "bench-secret",
        }
    finally:
        stop_group(process)


def sign_up_clients(base: str, count: int, prefix: str = "u") -> list[str]:
    return [
        post_json(
            f"{base}/auth/register/",
            {
                "username": f"{prefix}{n}",
                "email": f"{prefix}{n}@example.com",
                "password": "bench-pass-1234",
            },
        )["token"]
        for n in range(count)
    ]


def measure_uploads(stack: Stack, photo: bytes, clients: int, uploads: int) -> dict[str, Any]:
    """A photo processed before the answer, sent by several clients at once."""
    tokens = sign_up_clients(stack.base, clients)
    latencies: list[float] = []
    lock = threading.Lock()

    def client(token: str, count: int) -> None:
        for _ in range(count):
            _status, _answer, took = upload(f"{stack.base}/media/", token, photo)
            with lock:
                latencies.append(took)

    say(f"Uploading a 2 MP photo {uploads} times from {clients} clients")
    started = time.perf_counter()
    threads = [
        threading.Thread(target=client, args=(token, uploads // clients)) for token in tokens
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "clients": clients,
        "uploads": len(latencies),
        "uploads_per_s": len(latencies) / elapsed,
        "p50_ms": 1000 * percentile(latencies, 0.50),
        "p95_ms": 1000 * percentile(latencies, 0.95),
        "photo_bytes": len(photo),
    }


def measure_background(stack: Stack, photo: bytes, count: int) -> dict[str, Any]:
    """A photo large enough for the background, one at a time: the time to its 202, and
    until a client asking every 50 ms sees it ready."""
    (token,) = sign_up_clients(stack.base, 1, prefix="large")
    answered, ready = [], []
    say(f"Uploading a 40 MP photo {count} times, each until it is ready")
    for _ in range(count):
        started = time.perf_counter()
        status, media, took = upload(f"{stack.base}/media/", token, photo)
        if status != 202:
            raise BenchError(f"a 40 MP upload answered {status}, not 202")
        while media["state"] == "processing":
            if time.perf_counter() - started > 120:
                raise BenchError("a 40 MP upload was not ready within 120 s")
            time.sleep(0.05)
            media = get_json(f"{stack.base}/media/{media['id']}/", token)
        if media["state"] != "ready":
            raise BenchError(f"a 40 MP upload ended {media['state']}: {media['failure']}")
        answered.append(took)
        ready.append(time.perf_counter() - started)
    return {
        "count": count,
        "photo_bytes": len(photo),
        "answer_ms": 1000 * statistics.median(answered),
        "ready_ms": 1000 * statistics.median(ready),
    }


def measure_feed(stack: Stack, duration: int, connections: int) -> dict[str, Any]:
    """The feed of a reader whose followed accounts put 2 pictures on every post, against the
    feed of a reader whose followed accounts post the same without pictures: wrk on each for
    `duration` seconds, one after the other, in the same run."""
    authors, posts_each = 8, 25
    picture = image_bytes_for_feed()
    readers = {}
    for group in ("plain", "media"):
        (reader,) = sign_up_clients(stack.base, 1, prefix=f"{group}reader")
        writers = sign_up_clients(stack.base, authors, prefix=f"{group}author")
        say(f"Posting {authors * posts_each} posts ({group})")
        for number, token in enumerate(writers):
            me = get_json(f"{stack.base}/me/", token)
            post_json(f"{stack.base}/users/{me['username']}/follow/", {}, reader)
            for index in range(posts_each):
                media_ids = []
                if group == "media":
                    for _ in range(2):
                        media_ids.append(upload(f"{stack.base}/media/", token, picture)[1]["id"])
                post_json(
                    f"{stack.base}/posts/",
                    {
                        "title": f"Post {index} of {number}",
                        "content": "A day at the sea, and what we saw there.",
                        "media_ids": media_ids,
                    },
                    token,
                )
        readers[group] = reader
    port = int(stack.base.split(":")[-1].split("/")[0])
    results = {}
    for group, token in readers.items():
        page = get_json(f"{stack.base}/feed/", token)["results"]
        if len(page) != 20 or bool(page[0]["media_attachments"]) != (group == "media"):
            raise BenchError(f"the {group} reader's feed is not what was posted")
        say(f"wrk: the {group} reader's feed for {duration} s")
        results[group] = wrk_requests_per_s("/api/feed/", port, token, duration, connections)
    return {
        **results,
        "ratio": results["media"] / results["plain"],
        "duration": duration,
        "connections": connections,
    }


def image_bytes_for_feed() -> bytes:
    """A small photo (drawn, 320x240): the feed's cost is in its rows, not in the pixels."""
    from PIL import Image

    from plaza.operations.demo_pictures import landscape

    picture = Image.open(io.BytesIO(landscape(seed=7, size=(800, 600)))).convert("RGB")
    picture.thumbnail((320, 240))
    output = io.BytesIO()
    picture.save(output, format="JPEG")
    return output.getvalue()


def wrk_requests_per_s(
    url_path: str, port: int, token: str, duration: int, connections: int
) -> float:
    """GETs per second of `url_path` under wrk, as bench/load.py drives it (bench/lua/get.lua)."""
    if shutil.which("wrk") is None:
        raise BenchError("the feed comparison needs wrk: apt-get install wrk")
    endpoint = Endpoint("feed", "feed", "GET", url_path, "get.lua", token=token)
    result = run_wrk(endpoint, port, duration, threads=2, connections=connections, seed=0)
    failed = sum(result["errors"].values())
    if failed:
        raise BenchError(f"the feed answered {failed} errors under load: {result['errors']}")
    return float(result["requests"]) / (result["duration_us"] / 1e6)


def report(
    processing: list[dict[str, Any]],
    uploads: dict[str, dict[str, Any]],
    background: dict[str, dict[str, Any]],
    feed: dict[str, Any],
    stacks: dict[str, str],
) -> str:
    lines = [
        "| image | in (MB) | stored | median time (ms) | RSS before (MB) | peak RSS (MB) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for row in processing:
        lines.append(
            f"| {row['case']} | {row['bytes_in'] / 1e6:.1f} | {row['stored']} | "
            f"{row['ms']:.0f} | {row['rss_before_mb']:.0f} | {row['peak_rss_mb']:.0f} |"
        )
    lines += [
        "",
        "| mode | 2 MP uploads/s | p50 (ms) | p95 (ms) | 40 MP: 202 after (ms) "
        "| ready after (ms) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for mode, row in uploads.items():
        large = background[mode]
        lines.append(
            f"| {mode}: {stacks[mode]} | {row['uploads_per_s']:.1f} | {row['p50_ms']:.0f} | "
            f"{row['p95_ms']:.0f} | {large['answer_ms']:.0f} | {large['ready_ms']:.0f} |"
        )
    some = next(iter(uploads.values()))
    some_large = next(iter(background.values()))
    lines += [
        "",
        f"2 MP: a {some['photo_bytes'] / 1e6:.1f} MB JPEG, {some['uploads']} uploads from "
        f"{some['clients']} clients; 40 MP: a {some_large['photo_bytes'] / 1e6:.1f} MB JPEG, "
        f"median of {some_large['count']}, one at a time.",
    ]
    if feed:
        lines += [
            "",
            f"Feed (embedded, wrk {feed['duration']} s on {feed['connections']} connections "
            f"each): 2 pictures on every post {feed['media']:.0f} req/s, no pictures "
            f"{feed['plain']:.0f} req/s: ratio {feed['ratio']:.2f}.",
        ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run")
    run.add_argument("--clients", type=int, default=4)
    run.add_argument("--uploads", type=int, default=40)
    run.add_argument("--large-uploads", type=int, default=5)
    run.add_argument("--duration", type=int, default=10, help="seconds of wrk per feed")
    run.add_argument("--connections", type=int, default=8)
    run.add_argument(
        "--modes", default="embedded,distributed", help="embedded, distributed or both"
    )
    inner = commands.add_parser("child")
    inner.add_argument("path", type=Path)
    args = parser.parse_args()
    if args.command == "child":
        print(CHILD_MARKER + json.dumps(child(args.path)))
        return
    directory = WORK_DIR / "media"
    directory.mkdir(parents=True, exist_ok=True)
    try:
        processing = measure_processing(directory)
        photo = make_input("jpeg-2mp", directory).read_bytes()
        large = make_input("jpeg-40mp", directory).read_bytes()
        uploads, background, stacks, feed = {}, {}, {}, {}
        for mode in args.modes.split(","):
            with plaza_stack(directory, mode) as stack:
                stacks[mode] = stack.description
                uploads[mode] = measure_uploads(stack, photo, args.clients, args.uploads)
                background[mode] = measure_background(stack, large, args.large_uploads)
                if mode == "embedded":
                    feed = measure_feed(stack, args.duration, args.connections)
        print(report(processing, uploads, background, feed, stacks))
    except BenchError as exc:
        sys.exit(f"bench-media: {exc}")


if __name__ == "__main__":
    main()
