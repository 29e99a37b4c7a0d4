"""Media benchmark (make bench-media; results in bench/README.md).

1. Processing: what checking and re-encoding one upload costs, by kind of image, each kind in
   a child process of its own so that its peak RSS is its own: the median time of a few runs,
   the process's RSS before processing (Django, Pillow and the file's bytes loaded) and its
   peak while processing.
2. Uploads through the default server (`python -m config.serve`, as `make run` serves it, on
   a throwaway SQLite database): a 2 MP photo sent by CLIENTS clients at once, uploads per
   second and the latency of each (the preview is ready when the 201 arrives).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import FIRST_PORT, ROOT, WORK_DIR, BenchError, say
from processes import free_port, rss_mb, start_logged, stop_group, wait_for_health

CASES = {
    # name: (format, width, height, frames)
    "jpeg-2mp": ("JPEG", 1732, 1155, 1),
    "jpeg-12mp": ("JPEG", 4000, 3000, 1),
    "jpeg-40mp": ("JPEG", 7744, 5163, 1),
    "png-40mp": ("PNG", 7744, 5163, 1),
    "webp-12mp": ("WEBP", 4000, 3000, 1),
    "gif-300-frames": ("GIF", 480, 270, 300),
}
RUNS = 3
CHILD_MARKER = "PLAZA_MEDIA_RESULT "


def make_input(name: str, directory: Path) -> Path:
    """The case's input file, drawn once (plaza/operations/demo_pictures.py) and kept."""
    from PIL import Image

    from plaza.operations.demo_pictures import landscape

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
    """Runs in the child: process the file RUNS times; time and memory."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    from plaza.media.images import process_image
    from plaza.media.services import image_limits

    content = path.read_bytes()
    # From /proc: getrusage's maximum would start at the parent's, which drew the inputs.
    before = rss_mb(os.getpid(), "VmRSS") or 0.0
    timings = []
    for _ in range(RUNS):
        started = time.perf_counter()
        processed = process_image(io.BytesIO(content), image_limits())
        timings.append((time.perf_counter() - started) * 1000)
    peak = rss_mb(os.getpid(), "VmHWM") or 0.0
    return {
        "ms": statistics.median(timings),
        "rss_before_mb": before,
        "peak_rss_mb": peak,
        "stored": f"{processed.image.width}x{processed.image.height}",
        "bytes_in": len(content),
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


def post_json(url: str, body: dict[str, str]) -> dict[str, Any]:
    request = urllib.request.Request(  # noqa: S310 - our loopback server
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        answer: dict[str, Any] = json.loads(response.read())
        return answer


def upload(url: str, token: str, content: bytes) -> float:
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
        if response.status != 201:
            raise BenchError(f"upload answered {response.status}")
        response.read()
    return time.perf_counter() - started


def measure_uploads(directory: Path, clients: int, uploads: int) -> dict[str, Any]:
    photo = make_input("jpeg-2mp", directory).read_bytes()
    port = free_port(FIRST_PORT)
    work = Path(tempfile.mkdtemp(dir=directory))
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{work / 'plaza.sqlite3'}",
        "MEDIA_ROOT": str(work / "media"),
        "DEBUG": "false",
        "THROTTLE_MEDIA": "1000000/1d",
        "THROTTLE_USER": "1000000/1d",
        "THROTTLE_SIGNUP": "1000000/1d",
    }
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True
    )
    log = work / "server.log"
    process = start_logged(
        [sys.executable, "-m", "config.serve", "--host", "127.0.0.1", "--port", str(port)],
        env,
        log,
    )
    try:
        wait_for_health(process, port, log)
        base = f"http://127.0.0.1:{port}/api"
        tokens = [
            post_json(
                f"{base}/auth/register/",
                {"username": f"u{n}", "email": f"u{n}@example.com", "password": "bench-pass-1234"},
            )["token"]
            for n in range(clients)
        ]
        latencies: list[float] = []
        lock = threading.Lock()

        def client(token: str, count: int) -> None:
            for _ in range(count):
                took = upload(f"{base}/media/", token, photo)
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
    finally:
        stop_group(process)
    latencies.sort()
    return {
        "clients": clients,
        "uploads": len(latencies),
        "uploads_per_s": len(latencies) / elapsed,
        "p50_ms": 1000 * latencies[len(latencies) // 2],
        "p95_ms": 1000 * latencies[int(len(latencies) * 0.95) - 1],
        "photo_bytes": len(photo),
    }


def report(processing: list[dict[str, Any]], uploads: dict[str, Any]) -> str:
    lines = [
        "| image | in (MB) | stored | median time (ms) | RSS before (MB) | peak RSS (MB) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for row in processing:
        lines.append(
            f"| {row['case']} | {row['bytes_in'] / 1e6:.1f} | {row['stored']} | "
            f"{row['ms']:.0f} | {row['rss_before_mb']:.0f} | {row['peak_rss_mb']:.0f} |"
        )
    lines.append("")
    lines.append(
        f"Uploads of a {uploads['photo_bytes'] / 1e6:.1f} MB 2 MP JPEG through `config.serve` "
        f"(one process, SQLite), {uploads['clients']} clients: "
        f"{uploads['uploads_per_s']:.1f} uploads/s, p50 {uploads['p50_ms']:.0f} ms, "
        f"p95 {uploads['p95_ms']:.0f} ms ({uploads['uploads']} uploads)."
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run")
    run.add_argument("--clients", type=int, default=4)
    run.add_argument("--uploads", type=int, default=40)
    inner = commands.add_parser("child")
    inner.add_argument("path", type=Path)
    args = parser.parse_args()
    if args.command == "child":
        print(CHILD_MARKER + json.dumps(child(args.path)))
        return
    directory = WORK_DIR / "media"
    directory.mkdir(parents=True, exist_ok=True)
    try:
        print(
            report(
                measure_processing(directory),
                measure_uploads(directory, args.clients, args.uploads),
            )
        )
    except BenchError as exc:
        sys.exit(f"bench-media: {exc}")


if __name__ == "__main__":
    main()
