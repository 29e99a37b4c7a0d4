"""API9:2023 Improper Inventory Management: every route is known, documented and meant.

Already proven elsewhere: tests/test_schema.py (test_every_route_and_method_is_documented and
test_schema_documents_nothing_that_does_not_exist: the OpenAPI schema and the urlconf agree,
method by method, walked from Django's resolver; every operation documents its errors and
its authentication); tests/test_errors.py (test_route_table_matches_the_urlconf: a new route
must be added to the hostile-input tables).

This module adds: the server exposes nothing outside the admin and the API (no forgotten
debug, test or media routes in production), the paths reserved for a future
Mastodon-compatible face answer nothing yet, the test suite's crashing views are not
reachable, every route is in the API guide (docs/api.md), and the schema names the version
that is served.
"""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import URLResolver, get_resolver
from rest_framework.test import APIClient

from tests.routes import rest_routes

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def test_the_server_exposes_only_the_admin_and_the_api() -> None:
    top = {str(entry.pattern) for entry in get_resolver().url_patterns}
    # Uploads are served from MEDIA_ROOT in the embedded default (config/urls.py).
    assert top == {"admin/", "api/", "^media/(?P<path>.+)$"}
    api = next(
        entry
        for entry in get_resolver().url_patterns
        if isinstance(entry, URLResolver) and str(entry.pattern) == "api/"
    )
    # Nothing nested under /api/ that the route walk (and so the schema tests) would miss.
    assert all(not isinstance(entry, URLResolver) for entry in api.url_patterns)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/instance",
        "/api/v2/instance",
        "/oauth/authorize",
        "/.well-known/webfinger",
        "/boom/drf/",  # tests/urls_boom.py: only in its own tests' urlconf
        "/boom/database/",
        "/api/__debug__/",
        "/media/avatars/x.png",
        "/static/",
    ],
)
def test_unmeant_paths_answer_nothing(path: str) -> None:
    response = APIClient().get(path)
    assert response.status_code == 404, (path, response.status_code)


def test_every_route_is_in_the_api_guide() -> None:
    guide = GUIDE.read_text()
    missing = [
        path
        for path in rest_routes()
        # The guide writes every id parameter as {id}.
        if path not in guide and re.sub(r"\{\w+_id\}", "{id}", path) not in guide
    ]
    assert not missing, f"routes not in docs/api.md: {missing}"


def test_the_schema_names_the_served_version() -> None:
    import json

    schema = json.loads(APIClient().get("/api/schema/", {"format": "json"}).content)
    assert schema["info"]["version"] == settings.SPECTACULAR_SETTINGS["VERSION"]
    assert schema["info"]["title"] == "Plaza API"
