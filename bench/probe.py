"""The endpoints the benchmark drives, and the in-process probe: a child process with Django
that counts each endpoint's SQL through the test client (`run.py probe`)."""

from __future__ import annotations

import contextlib
import json
import os
import random
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common import PROBE_MARKER, ROOT, BenchError


@dataclass
class Endpoint:
    key: str
    label: str
    method: str
    path: str  # the URL path wrk requests (the like script builds its own per request)
    script: str  # file in bench/lua/
    token: str | None = None  # sent as "Authorization: Token ..." by -H (GET endpoints)
    script_args: list[str] = field(default_factory=list)
    connections: int | None = None  # None: the run's --connections
    queries_from: str | None = None  # same request as another endpoint: reuse its count


@dataclass
class Tokens:
    size: str
    viewer_username: str
    viewer_token: str
    users: list[tuple[str, str]]
    post_ids: list[str]

    @classmethod
    def load(cls, path: Path) -> Tokens:
        try:
            raw = json.loads(path.read_text())
            tokens = cls(
                size=str(raw.get("size", "")),
                viewer_username=raw["viewer"]["username"],
                viewer_token=raw["viewer"]["token"],
                users=[(user["username"], user["token"]) for user in raw["users"]],
                post_ids=[str(post_id) for post_id in raw["post_ids"]],
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise BenchError(f"cannot read the tokens file {path}: {exc!r}") from exc
        if not tokens.users or not tokens.post_ids:
            raise BenchError(f"{path} lists no users or no post ids.")
        return tokens


ENDPOINT_KEYS = (
    "health",
    "feed",
    "feed_deep",
    "posts",
    "notifications",
    "user",
    "feed_1conn",
    "post_create",
    "like",
)


def build_endpoints(
    tokens: Tokens, celebrity: str, deep_path: str, deep_pages: int, lists: dict[str, str]
) -> list[Endpoint]:
    """Every endpoint in run order: reads first, writes last (they add rows the reads see)."""
    viewer = tokens.viewer_token
    return [
        Endpoint("health", "GET /api/health/", "GET", "/api/health/", "get.lua"),
        Endpoint("feed", "GET /api/feed/", "GET", "/api/feed/", "get.lua", viewer),
        Endpoint(
            "feed_deep",
            f"GET /api/feed/ ({deep_pages} pages deep)",
            "GET",
            deep_path,
            "get.lua",
            viewer,
        ),
        Endpoint("posts", "GET /api/posts/", "GET", "/api/posts/", "get.lua", viewer),
        Endpoint(
            "notifications",
            "GET /api/notifications/",
            "GET",
            "/api/notifications/",
            "get.lua",
            viewer,
        ),
        Endpoint(
            "user",
            f"GET /api/users/{celebrity}/",
            "GET",
            f"/api/users/{celebrity}/",
            "get.lua",
            viewer,
        ),
        Endpoint(
            "feed_1conn",
            "GET /api/feed/ (1 connection)",
            "GET",
            "/api/feed/",
            "get.lua",
            viewer,
            connections=1,
            queries_from="feed",
        ),
        Endpoint(
            "post_create",
            "POST /api/posts/",
            "POST",
            "/api/posts/",
            "post_create.lua",
            script_args=[lists["user_tokens"]],
        ),
        Endpoint(
            "like",
            "POST /api/posts/{id}/like/",
            "POST",
            "/api/posts/",
            "like.lua",
            script_args=[lists["user_tokens"], lists["post_ids"]],
        ),
    ]


def probe_main(spec_path: Path) -> None:
    """Find the celebrity and the deep feed page, count each endpoint's queries, describe the
    data set. Prints one JSON line for the parent."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    django.setup()

    from django.apps import apps
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from plaza.feed.timelines import timeline_store

    spec = json.loads(spec_path.read_text())
    tokens = Tokens.load(Path(spec["tokens_file"]))
    client = Client(HTTP_HOST="127.0.0.1")

    def auth(token: str | None) -> dict[str, str]:
        return {"HTTP_AUTHORIZATION": f"Token {token}"} if token else {}

    # The feed, walked page by page through its cursor as a client would.
    deep_path, depth = "/api/feed/", 0
    for _ in range(spec["deep_pages"]):
        response = client.get(deep_path, **auth(tokens.viewer_token))  # type: ignore[arg-type]
        if response.status_code != 200:
            raise SystemExit(
                f"GET {deep_path} as {tokens.viewer_username} answered "
                f"{response.status_code}: {response.content[:300]!r}. Does the tokens file "
                "belong to this database?"
            )
        next_url = response.json().get("next")
        if not next_url:
            break
        parts = urllib.parse.urlsplit(next_url)
        deep_path = parts.path + ("?" + parts.query if parts.query else "")
        depth += 1

    user_model = apps.get_model("accounts", "User")
    celebrity = (
        user_model.objects.order_by("-followers_count").values_list("username", flat=True).first()
    ) or tokens.viewer_username

    def call(path: str, token: str | None, body: dict[str, str] | None) -> Any:
        if body is None:
            return client.get(path, **auth(token))  # type: ignore[arg-type]
        return client.post(path, body, content_type="application/json", **auth(token))  # type: ignore[arg-type]

    lists = {"user_tokens": "", "post_ids": ""}
    endpoints = build_endpoints(tokens, celebrity, deep_path, depth, lists)
    rng = random.Random()
    measured: dict[str, dict[str, Any]] = {}
    for endpoint in endpoints:
        if endpoint.queries_from:
            continue
        calls: list[tuple[str, str | None, dict[str, str] | None]]
        if endpoint.key == "post_create":
            calls = [
                (
                    "/api/posts/",
                    token,
                    {"title": "Query count probe", "content": "Counting this request's SQL."},
                )
                for _, token in rng.sample(tokens.users, min(8, len(tokens.users)))
            ]
        elif endpoint.key == "like":
            calls = [
                (f"/api/posts/{rng.choice(tokens.post_ids)}/like/", rng.choice(tokens.users)[1], {})
                for _ in range(8)
            ]
        else:
            calls = [(endpoint.path, endpoint.token, None)] * 2

        call(*calls[0])  # warm: first-use costs, a token's hourly last-used write
        for path, token, body in calls[1:]:
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                response = call(path, token, body)
                elapsed_ms = (time.perf_counter() - started) * 1000
            # A like that already existed takes the cheaper path: count a new one if we can.
            if endpoint.key == "like" and response.status_code == 200:
                continue
            break
        measured[endpoint.key] = {
            "status": response.status_code,
            "queries": len(captured.captured_queries),
            "in_process_ms": round(elapsed_ms, 2),
            "sql": [query["sql"][:2000] for query in captured.captured_queries],
        }

    dataset: dict[str, Any] = {"vendor": connection.vendor}
    for label, (app, model) in {
        "users": ("accounts", "User"),
        "posts": ("posts", "Post"),
        "comments": ("posts", "Comment"),
        "likes": ("posts", "Like"),
        "follows": ("graph", "Follow"),
        "notifications": ("notifications", "Notification"),
    }.items():
        with contextlib.suppress(LookupError):
            dataset[label] = apps.get_model(app, model).objects.count()
    viewer = user_model.objects.filter(username=tokens.viewer_username).first()
    if viewer is not None:
        dataset["viewer_following"] = getattr(viewer, "following_count", None)
    store = timeline_store()
    if store is not None and viewer is not None:
        # The distributed mode: the feed walk above built the viewer's timeline in Redis.
        found = store.read(viewer.pk, before=None, count=store.size)
        # `read` answers (ids, large accounts), or None when there is no timeline.
        dataset["viewer_timeline_ids"] = None if found is None else len(found[0])
    celebrity_user = user_model.objects.filter(username=celebrity).first()
    dataset["celebrity"] = celebrity
    dataset["celebrity_followers"] = getattr(celebrity_user, "followers_count", None)

    print(
        PROBE_MARKER
        + json.dumps(
            {
                "celebrity": celebrity,
                "deep_path": deep_path,
                "deep_pages": depth,
                "queries": measured,
                "dataset": dataset,
            }
        ),
        flush=True,
    )
