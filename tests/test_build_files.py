"""The build and CI files name no host beyond this machine.

pip, uv and pip-audit find the package index and its advisories from their own configuration
(pip.conf, PIP_INDEX_URL, UV_INDEX_URL...), so a mirror or an allow-listing proxy can stand in
for them; a probe of a named remote address in CI goes stale, or tests something other than
what it says. Whether the advisories can be reached is judged from pip-audit's own answer
(scripts/audit.py). Loopback addresses and placeholders ($HOST, {port}) are fine.
"""

import re

from tests.servers import PROJECT_ROOT

BUILD_FILES = sorted(
    {
        PROJECT_ROOT / "Makefile",
        PROJECT_ROOT / ".ci" / "run",
        PROJECT_ROOT / "pyproject.toml",
        *PROJECT_ROOT.glob("requirements*.txt"),
        *(path for path in (PROJECT_ROOT / "scripts").iterdir() if path.is_file()),
    }
)
URL = re.compile(r"\b[a-z][a-z0-9+.-]*://([^\s\"'`<>()]*)", re.IGNORECASE)
# A bare domain name, as in `curl example.org/...` or a comment naming a site.
DOMAIN = re.compile(r"\b(?:[a-z0-9-]+\.)+(?:org|com|net|io|dev|info|app)\b", re.IGNORECASE)
LOCAL_HOSTS = {"", "localhost", "127.0.0.1", "[::1]"}


def url_host(rest: str) -> str:
    """The host of what follows `scheme://`: no user, password, port or path."""
    authority = rest.split("/", 1)[0].rsplit("@", 1)[-1]
    if authority.startswith("["):
        return authority.split("]", 1)[0] + "]"
    return authority.split(":", 1)[0]


def remote_names(text: str) -> list[str]:
    hosts = [url_host(match) for match in URL.findall(text)]
    names = [host for host in hosts if host not in LOCAL_HOSTS and host[:1] not in "${<.…"]
    return names + DOMAIN.findall(text)


def test_the_host_finder_finds_hosts() -> None:
    assert remote_names("curl -s https://index.example.org/simple/ | head") == [
        "index.example.org",
        "index.example.org",
    ]
    assert remote_names("# needs files.example.com to answer") == ["files.example.com"]
    assert remote_names("redis://127.0.0.1:$port/0 http://$(HOST):$(PORT)/") == []
    assert remote_names("postgres://plaza:$password@127.0.0.1:$port/plaza") == []
    assert remote_names("sqlite:///$venv/db.sqlite3 memory://localhost/") == []


def test_build_and_ci_files_name_no_remote_host() -> None:
    assert len(BUILD_FILES) >= 8
    found = {
        str(path.relative_to(PROJECT_ROOT)): names
        for path in BUILD_FILES
        if (names := remote_names(path.read_text()))
    }
    assert found == {}
