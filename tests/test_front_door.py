"""What only a real server shows: Plaza served as `make run` serves it (config.serve: uvicorn,
the embedded default on a fresh SQLite file), driven over real sockets.

- Bodies over the limit are refused before they are read: a Content-Length over it answers
  413 at once, a chunked body is cut off as soon as it passes it, and nothing reaches disk.
- The client address that per-address rate limits count obeys NUM_PROXIES alone, whatever
  X-Forwarded-For says.
- `/ws/` checks Host and Origin.
- PUBLIC_URL, unset, follows the port served; several workers without Redis refuse to start.
"""

import io
import json
import random
import re
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from PIL import Image
from websockets.sync.client import connect

from plaza.realtime.origins import CLOSE_FORBIDDEN_ORIGIN
from tests.servers import (
    PROJECT_ROOT,
    Server,
    exchange,
    migrate,
    receive,
    rest,
    server_environment,
    sign_up,
    start_server,
    stop_server,
)

BODY_LIMIT = 256 * 1024  # DATA_UPLOAD_MAX_MEMORY_SIZE's default
LOGIN_LIMIT = 3


def embedded_environment(directory: Path, **overrides: str) -> dict[str, str]:
    return server_environment(
        **{
            "DATABASE_URL": f"sqlite:///{directory / 'plaza.sqlite3'}",
            "REDIS_URL": "",
            "CACHE_URL": "",
            "CELERY_TASK_ALWAYS_EAGER": "",
            "PUBLIC_URL": "",
            "NUM_PROXIES": "",
            "EMAIL_URL": "consolemail://",
            # Fixed windows of 1,000 days: no window ends between a test's attempts.
            "THROTTLE_LOGIN": f"{LOGIN_LIMIT}/1000d",
            "CSRF_TRUSTED_ORIGINS": "https://app.example.com,https://*.trusted.example",
            **overrides,
        }
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp("front-door")
    environment = embedded_environment(directory)
    migrate(environment)
    started = start_server(environment, directory / "server.log")
    yield started
    stop_server(started)


@pytest.fixture(scope="module")
def server_behind_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp("behind-proxy")
    environment = embedded_environment(directory, NUM_PROXIES="1")
    migrate(environment)
    started = start_server(environment, directory / "server.log")
    yield started
    stop_server(started)


def read_answer(link: socket.socket, timeout: float) -> tuple[int, dict[str, str], bytes]:
    """Read one HTTP/1.1 answer (status, headers, body) from a raw socket."""
    link.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = link.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {
        name.strip().lower(): value.strip()
        for name, _, value in (line.partition(":") for line in header_lines)
    }
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = link.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(status_line.split()[1]), headers, body


def bytes_written(server: Server) -> int:
    """What the server process has written so far, to files and sockets alike (Linux's
    /proc/PID/io `wchar`): a body spooled to a temporary file shows here, even one that is
    unlinked as soon as it is made, as Django's are."""
    io = Path(f"/proc/{server.process.pid}/io").read_text()
    return int(re.search(r"^wchar: (\d+)$", io, flags=re.MULTILINE)[1])  # type: ignore[index]


def request_head(server: Server, path: str, *headers: str) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{server.port}", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


# --- Request bodies -----------------------------------------------------------------------


def test_a_declared_body_over_the_limit_is_refused_before_it_is_sent(server: Server) -> None:
    """A 400 MB Content-Length gets its 413 while the client has sent only the headers."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as link:
        started = time.monotonic()
        link.sendall(
            request_head(
                server,
                "/api/auth/login/",
                "Content-Type: application/json",
                f"Content-Length: {400 * 1024 * 1024}",
            )
        )
        status, headers, body = read_answer(link, timeout=5)
        elapsed = time.monotonic() - started
    assert status == 413
    assert headers["content-type"] == "application/json"
    assert json.loads(body)["code"] == "too_large"
    assert elapsed < 2


def test_a_chunked_body_is_cut_off_once_it_passes_the_limit(server: Server) -> None:
    """A chunked body has no length to refuse up front: the server stops reading it as soon
    as it passes the limit, answers 413 and closes, long before the client is done."""
    planned = 64 * 1024 * 1024
    chunk = b"x" * 65536
    framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    sent = 0
    written_before = bytes_written(server)
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as link:
        link.sendall(
            request_head(
                server,
                "/api/auth/login/",
                "Content-Type: application/json",
                "Transfer-Encoding: chunked",
            )
        )
        answered = False
        deadline = time.monotonic() + 30
        while sent < planned and time.monotonic() < deadline:
            readable, _, _ = select.select([link], [], [], 0)
            if readable:
                answered = True
                break
            try:
                link.sendall(framed)
            except (BrokenPipeError, ConnectionResetError):
                answered = True
                break
            sent += len(chunk)
        assert answered, f"the server read all {sent} bytes without answering"
        status, _headers, body = read_answer(link, timeout=5)
    assert status == 413
    assert json.loads(body)["code"] == "too_large"
    # What the client got into the socket buffers before the answer, not what was read.
    assert sent < planned / 4, sent
    # Django spools a body past FILE_UPLOAD_MAX_MEMORY_SIZE (2.5 MB) to a temporary file:
    # the server wrote less than that (its answer and a log line).
    assert bytes_written(server) - written_before < 1024 * 1024


def test_a_body_within_the_limit_is_read_as_before(server: Server) -> None:
    answer = exchange(server, "POST", "/api/auth/password/reset/", data={"email": "x" * 1000})
    assert answer.status == 400  # read, parsed and refused for its content


# --- Client addresses ---------------------------------------------------------------------


def login_attempt(server: Server, forwarded_for: str) -> int:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as link:
        body = json.dumps({"username": "nobody", "password": "wrong password"}).encode()
        link.sendall(
            request_head(
                server,
                "/api/auth/login/",
                "Content-Type: application/json",
                f"Content-Length: {len(body)}",
                f"X-Forwarded-For: {forwarded_for}",
                "Connection: close",
            )
            + body
        )
        status, _headers, _body = read_answer(link, timeout=10)
    return status


def test_forged_forwarded_for_gives_no_fresh_allowance(server: Server) -> None:
    """NUM_PROXIES is 0: whatever X-Forwarded-For a client sends, its sign-in attempts are
    counted against its connection's address (uvicorn's own default would trust the header
    from 127.0.0.1)."""
    statuses = [login_attempt(server, f"198.51.100.{n}") for n in range(LOGIN_LIMIT + 1)]
    assert statuses == [400] * LOGIN_LIMIT + [429]


def test_behind_one_proxy_the_forwarded_address_is_counted(server_behind_proxy: Server) -> None:
    """NUM_PROXIES=1: each address the proxy reports has its own allowance."""
    statuses = [
        login_attempt(server_behind_proxy, f"203.0.113.{n}") for n in range(LOGIN_LIMIT + 1)
    ]
    assert statuses == [400] * (LOGIN_LIMIT + 1)
    repeated = [login_attempt(server_behind_proxy, "192.0.2.7") for _ in range(LOGIN_LIMIT + 1)]
    assert repeated == [400] * LOGIN_LIMIT + [429]


# --- Staff sign-in -------------------------------------------------------------------------

STAFF_PASSWORD = "staff passphrase 2026"


@pytest.fixture(scope="module")
def admin_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server with a superuser and collected static files, as `make run` serves the admin."""
    directory = tmp_path_factory.mktemp("admin")
    environment = embedded_environment(directory, STATIC_ROOT=str(directory / "static"))
    migrate(environment)
    # Both commands in one Django start, as an operator would run them one after the other.
    commands = (
        "from django.core.management import call_command as run; "
        "run('collectstatic', interactive=False, verbosity=0); "
        "run('createsuperuser', interactive=False, username='root', email='root@example.com')"
    )
    subprocess.run(  # noqa: S603 - this Python, fixed arguments
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", commands],
        cwd=PROJECT_ROOT,
        env={**environment, "DJANGO_SUPERUSER_PASSWORD": STAFF_PASSWORD},
        check=True,
        capture_output=True,
    )
    started = start_server(environment, directory / "server.log")
    yield started
    stop_server(started)


def admin_login(session: requests.Session, server: Server, password: str) -> requests.Response:
    form = session.get(f"{server.http}/admin/login/", timeout=10)
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
    assert csrf, form.text
    return session.post(
        f"{server.http}/admin/login/?next=/admin/",
        data={"csrfmiddlewaretoken": csrf[1], "username": "root", "password": password},
        headers={"Referer": f"{server.http}/admin/login/"},
        allow_redirects=False,
        timeout=10,
    )


def admin_password_change(session: requests.Session, server: Server, old: str) -> int:
    form = session.get(f"{server.http}/admin/password_change/", timeout=10)
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
    assert csrf, form.text
    new_password = "another staff passphrase 9"
    answer = session.post(
        f"{server.http}/admin/password_change/",
        data={
            "csrfmiddlewaretoken": csrf[1],
            "old_password": old,
            "new_password1": new_password,
            "new_password2": new_password,
        },
        headers={"Referer": f"{server.http}/admin/password_change/"},
        allow_redirects=False,
        timeout=10,
    )
    return answer.status_code


def test_staff_password_checks_share_the_sign_in_limit(admin_server: Server) -> None:
    """Signing in to the admin and changing a password there (which checks the old one) spend
    the sign-in budget like the API's sign-in: past it even the right password is refused,
    and the API's sign-in is refused from that address too."""
    staff = requests.Session()
    assert admin_login(staff, admin_server, STAFF_PASSWORD).status_code == 302
    assert staff.get(f"{admin_server.http}/admin/", timeout=10).status_code == 200
    for _ in range(LOGIN_LIMIT - 1):
        assert admin_password_change(staff, admin_server, "a wrong guess") == 200
    assert admin_password_change(staff, admin_server, "a wrong guess") == 429

    refused = admin_login(requests.Session(), admin_server, STAFF_PASSWORD)
    assert refused.status_code == 429
    assert refused.json()["code"] == "throttled"
    assert int(refused.headers["Retry-After"]) > 0
    assert login_attempt(admin_server, "") == 429


# --- WebSocket Host and Origin ------------------------------------------------------------


@pytest.fixture(scope="module")
def token(server: Server) -> str:
    return sign_up(server, "ada")


def closed_with(server: Server, token: str, **headers: str) -> tuple[int | None, str | None]:
    with connect(
        server.ws, additional_headers={"Authorization": f"Token {token}", **headers}
    ) as socket_:
        with pytest.raises(Exception):  # noqa: B017, PT011 - websockets' ConnectionClosed
            receive(socket_, timeout=5)
        return socket_.close_code, socket_.close_reason


def test_a_page_on_another_site_cannot_open_the_socket(server: Server, token: str) -> None:
    code, reason = closed_with(server, token, Origin="https://evil.example")
    assert code == CLOSE_FORBIDDEN_ORIGIN
    assert "origin" in (reason or "").lower()


def test_an_unknown_host_cannot_open_the_socket(server: Server, token: str) -> None:
    code, reason = closed_with(server, token, Host="rebound.example")
    assert code == CLOSE_FORBIDDEN_ORIGIN
    assert "ALLOWED_HOSTS" in (reason or "")


@pytest.mark.parametrize(
    "origin",
    [
        "https://127.0.0.1:{port}",  # the right host under another scheme
        "http://127.0.0.1:1",  # another port: another site
        "http://localhost:{port}",  # allowed as a host name, but not the Host connected to
        "https://app.example.org",  # a trusted origin under another host name
        "https://app.example.com:99999",  # no port at all
        "null",  # a sandboxed page or a file
    ],
)
def test_only_plazas_own_and_trusted_origins_open_the_socket(
    server: Server, token: str, origin: str
) -> None:
    code, _reason = closed_with(server, token, Origin=origin.format(port=server.port))
    assert code == CLOSE_FORBIDDEN_ORIGIN


@pytest.mark.parametrize(
    "origin",
    [None, "http://127.0.0.1:{port}", "https://app.example.com", "https://web.trusted.example"],
)
def test_apps_and_plazas_own_pages_open_the_socket(
    server: Server, token: str, origin: str | None
) -> None:
    headers = {"Authorization": f"Token {token}"}
    if origin is not None:
        headers["Origin"] = origin.format(port=server.port)
    with connect(server.ws, additional_headers=headers) as socket_:
        assert receive(socket_, timeout=5)["type"] == "session.ready"


# --- Serving ------------------------------------------------------------------------------


def test_emails_link_to_the_port_served_when_public_url_is_unset(server: Server) -> None:
    """`make run PORT=8300` must not send people to port 8000."""
    rest(
        server,
        "POST",
        "/api/auth/register/",
        None,
        {"username": "grace", "email": "grace@example.com", "password": "long-passphrase"},
    )
    answer = exchange(
        server, "POST", "/api/auth/password/reset/", data={"email": "grace@example.com"}
    )
    assert answer.status == 202
    expected = f"http://127.0.0.1:{server.port}/reset-password/?uid="
    deadline = time.monotonic() + 10
    while expected not in server.log.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    log = server.log.read_text()
    assert expected in log
    assert re.search(
        rf"curl -X POST http://127\.0\.0\.1:{server.port}/api/auth/password/reset/confirm/", log
    )


def test_several_workers_without_redis_refuse_to_start(tmp_path: Path) -> None:
    environment = embedded_environment(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "config.serve", "--port", "1", "--workers", "2"],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "REDIS_URL" in result.stderr
    assert "--workers 2" in result.stderr


# --- Uploads ----------------------------------------------------------------------------------


def noise_png(side: int) -> bytes:
    """A PNG that does not compress: random pixels, about 3 bytes each."""
    image = Image.frombytes("RGB", (side, side), random.Random(7).randbytes(side * side * 3))
    output = io.BytesIO()
    image.save(output, format="PNG")
    return output.getvalue()


def test_an_upload_over_its_limit_is_refused_before_it_is_sent(server: Server) -> None:
    """The upload route takes more than the 256 KiB of other routes, but not a byte past its
    own limit: a declared 17 MB body gets its 413 while only the headers are sent."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as link:
        link.sendall(
            request_head(
                server,
                "/api/media/",
                "Content-Type: multipart/form-data; boundary=x",
                f"Content-Length: {17 * 1024 * 1024}",
            )
        )
        status, _headers, body = read_answer(link, timeout=5)
    assert status == 413
    assert json.loads(body)["code"] == "too_large"


def test_an_upload_is_taken_and_served_as_a_stored_file(server: Server, token: str) -> None:
    """A 1.2 MB picture passes the upload and avatar routes' limit (five times the default
    body limit), and Plaza serves the stored file itself: its type, cached for good, never
    run as a page."""
    picture = noise_png(640)
    assert len(picture) > 1024 * 1024
    answer = requests.post(
        f"{server.http}/api/media/",
        headers={"Authorization": f"Token {token}"},
        files={"file": ("photo.png", picture, "image/png")},
        data={"description": "Static"},
        timeout=30,
    )
    assert answer.status_code == 201, answer.text
    media = answer.json()
    assert media["url"].startswith(f"{server.http}/media/attachments/")
    served = requests.get(media["url"], timeout=10)
    assert served.status_code == 200
    assert served.headers["Content-Type"] == "image/png"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert served.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert "immutable" in served.headers["Cache-Control"]
    assert Image.open(io.BytesIO(served.content)).size == (640, 640)
    preview = requests.get(media["preview_url"], timeout=10)
    assert preview.headers["Content-Type"] == "image/jpeg"
    # An avatar of the same size passes its route's limit too.
    avatar = requests.put(
        f"{server.http}/api/me/avatar/",
        headers={"Authorization": f"Token {token}"},
        files={"file": ("me.png", picture, "image/png")},
        timeout=30,
    )
    assert avatar.status_code == 200, avatar.text
    assert requests.get(avatar.json()["avatar"], timeout=10).status_code == 200
    # Nothing outside the uploads is reachable through the media route, nor a listing.
    for path in ("/media/../manage.py", "/media/%2e%2e/manage.py", "/media/attachments/"):
        refused = requests.get(f"{server.http}{path}", timeout=10)
        assert refused.status_code in (400, 404), path
        assert refused.headers["Content-Type"] == "application/json", path


def test_a_route_can_take_larger_bodies_than_the_default() -> None:
    """Room for uploads: the longest matching prefix decides a route's limit."""
    from plaza.core.asgi import RequestBodyLimit

    async def app(scope: object, receive: object, send: object) -> None:
        raise AssertionError("not called")

    limits = RequestBodyLimit(app, 100, {"/api/": 50, "/api/media/": 10_000})
    assert limits.limit_for("/api/media/") == 10_000
    assert limits.limit_for("/api/posts/") == 50
    assert limits.limit_for("/admin/login/") == 100
