"""The OpenAPI description: complete (every route), honest about errors and auth, valid, and
browsable offline (Swagger UI from our own static files, no CDN)."""

import json
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings
from rest_framework.test import APIClient

from tests.factories import CommentFactory, PostFactory, UserFactory
from tests.routes import HTTP_METHODS, rest_routes

# The description itself, not part of what it describes.
SELF_DESCRIBING = {"/api/schema/", "/api/docs/"}
ERROR_REF = "#/components/schemas/Error"


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    response = APIClient().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return json.loads(response.content)


def operations(schema: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield path, method, operation


def refs_error(response: dict[str, Any]) -> bool:
    content = response.get("content", {})
    return any(media.get("schema", {}).get("$ref") == ERROR_REF for media in content.values())


# --- The document -------------------------------------------------------------------------


def test_schema_is_openapi_3_yaml_by_default() -> None:
    response = APIClient().get("/api/schema/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi")
    document = yaml.safe_load(response.content)
    assert str(document["openapi"]).startswith("3.")
    assert document["info"]["title"] == "Plaza API"
    assert document["paths"]


def test_schema_as_json_matches_the_yaml(schema: dict[str, Any]) -> None:
    assert schema["openapi"].startswith("3.")
    as_yaml = yaml.safe_load(APIClient().get("/api/schema/").content)
    assert as_yaml == schema


def test_the_route_walk_finds_the_api() -> None:
    routes = rest_routes()
    # A sanity check on the walk itself, so the coverage test below cannot pass vacuously.
    assert "/api/posts/{post_id}/" in routes
    assert routes["/api/posts/{post_id}/"] == {"get", "put", "patch", "delete"}
    assert len(routes) > 20


def test_every_route_and_method_is_documented(schema: dict[str, Any]) -> None:
    missing = [
        f"{method.upper()} {path}"
        for path, methods in rest_routes().items()
        if path not in SELF_DESCRIBING
        for method in methods
        if method not in schema["paths"].get(path, {})
    ]
    assert not missing, f"routes missing from /api/schema/: {missing}"


def test_schema_documents_nothing_that_does_not_exist(schema: dict[str, Any]) -> None:
    routes = rest_routes()
    extra = [
        f"{method.upper()} {path}"
        for path, method, _operation in operations(schema)
        if method not in routes.get(path, set())
    ]
    assert not extra


def test_operation_ids_are_unique(schema: dict[str, Any]) -> None:
    ids = [operation["operationId"] for _path, _method, operation in operations(schema)]
    assert len(ids) == len(set(ids))


def test_error_component_is_the_one_error_shape(schema: dict[str, Any]) -> None:
    error = schema["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"code", "message", "fields"}
    assert error["properties"]["code"]["type"] == "string"
    assert error["properties"]["message"]["type"] == "string"
    fields = error["properties"]["fields"]
    assert fields["type"] == "object"
    assert fields["additionalProperties"] == {"type": "array", "items": {"type": "string"}}


# --- Errors and authentication are documented --------------------------------------------


def test_every_documented_error_uses_the_error_shape(schema: dict[str, Any]) -> None:
    wrong = [
        f"{method.upper()} {path} {status}"
        for path, method, operation in operations(schema)
        for status, response in operation["responses"].items()
        if int(status) >= 400 and not refs_error(response)
    ]
    assert not wrong


def test_every_operation_documents_its_errors(schema: dict[str, Any]) -> None:
    problems = []
    for path, method, operation in operations(schema):
        label = f"{method.upper()} {path}"
        documented = {int(status) for status in operation["responses"]}
        errors = {status for status in documented if status >= 400}
        if not errors:
            problems.append(f"{label}: no error response")
        parameters = {p["name"]: p for p in operation.get("parameters", [])}
        takes_input = bool(parameters) or "requestBody" in operation
        requires_auth = {} not in operation.get("security", [{}])
        if (takes_input or requires_auth) and not {e for e in errors if e < 500}:
            problems.append(f"{label}: no 4xx response")
        if any(p["in"] == "path" for p in parameters.values()) and 404 not in errors:
            problems.append(f"{label}: a path parameter but no 404")
        if ("requestBody" in operation or "cursor" in parameters) and 400 not in errors:
            problems.append(f"{label}: input but no 400")
        if "requestBody" in operation and not {400, 413, 415} <= errors:
            # Malformed JSON, a body past DATA_UPLOAD_MAX_MEMORY_SIZE, a non-JSON body.
            problems.append(f"{label}: a body but not all of 400, 413 and 415")
    assert not problems, "\n".join(problems)


@pytest.mark.django_db
def test_every_operation_that_needs_a_token_documents_401(schema: dict[str, Any]) -> None:
    """Ask every operation anonymously: those that answer 401 must say so, and must be
    documented as needing authentication; those documented as needing it must answer 401."""
    author = UserFactory.create(username="author")
    post = PostFactory.create(author=author)
    comment = CommentFactory.create(post=post, author=author)
    values = {
        "username": author.username,
        "post_id": post.pk,
        "comment_id": comment.pk,
        "notification_id": 1,
        "conversation_id": 1,
        "request_id": 1,
        "media_id": 1,
        "name": "plaza",
    }
    client = APIClient()
    problems = []
    needing_auth = 0
    for path, method, operation in operations(schema):
        label = f"{method.upper()} {path}"
        response = client.generic(method.upper(), path.format(**values), "{}", "application/json")
        assert response.status_code < 500, (label, response.content)
        documented_401 = "401" in operation["responses"]
        security = operation.get("security", [{}])
        documented_as_required = {} not in security
        if response.status_code == 401:
            needing_auth += 1
            if not documented_401:
                problems.append(f"{label}: answers 401 but does not document it")
            if not documented_as_required:
                problems.append(f"{label}: answers 401 but is documented as open")
        elif documented_as_required:
            problems.append(f"{label}: documented as needing a token, answered {response}")
        if documented_as_required:
            assert any("tokenAuth" in option for option in security), label
    assert not problems, "\n".join(problems)
    assert needing_auth >= 15  # the check above ran on real protected routes


def test_the_one_security_scheme_is_http_bearer(schema: dict[str, Any]) -> None:
    """Swagger UI then asks for the token alone and sends `Bearer <token>` itself; the session
    cookie (the admin's, and the browsable API's) is not offered as a way to call the API."""
    assert schema["components"]["securitySchemes"] == {
        "tokenAuth": {
            "type": "http",
            "scheme": "bearer",
            "description": schema["components"]["securitySchemes"]["tokenAuth"]["description"],
        }
    }
    assert "/api/auth/login/" in schema["components"]["securitySchemes"]["tokenAuth"]["description"]
    schemes_used = {
        name
        for _path, _method, operation in operations(schema)
        for option in operation.get("security", [])
        for name in option
    }
    assert schemes_used == {"tokenAuth"}
    assert "cookieAuth" not in json.dumps(schema)
    assert "Token <key>" not in schema["info"]["description"]


def test_paginated_examples_link_to_this_server(schema: dict[str, Any]) -> None:
    text = json.dumps(schema)
    assert "example.org" not in text
    pages = [
        component
        for name, component in schema["components"]["schemas"].items()
        if name.startswith("Paginated")
    ]
    assert len(pages) >= 5
    for page in pages:
        for link in ("next", "previous"):
            example = page["properties"][link]["example"]
            assert example.startswith(f"{settings.PUBLIC_URL}/api/"), example
            assert "cursor=" in example


def test_paginated_examples_follow_public_url() -> None:
    with override_settings(PUBLIC_URL="https://plaza.example"):
        document = json.loads(APIClient().get("/api/schema/", {"format": "json"}).content)
    page = document["components"]["schemas"]["PaginatedPostList"]
    assert page["properties"]["next"]["example"].startswith("https://plaza.example/api/")


def test_ids_are_documented_as_strings(schema: dict[str, Any]) -> None:
    """64-bit ids lose precision as JavaScript numbers: the API sends strings, and says so."""
    wrong = []
    for name, component in schema["components"]["schemas"].items():
        for prop, spec in component.get("properties", {}).items():
            if (prop == "id" or prop.endswith("_id")) and spec.get("type") != "string":
                wrong.append(f"{name}.{prop}: {spec}")
    assert not wrong
    for path, method, operation in operations(schema):
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "path" and parameter["name"].endswith("_id"):
                assert parameter["schema"]["type"] in ("string", "integer"), (method, path)


def test_since_is_documented_as_digits(schema: dict[str, Any]) -> None:
    """`?since=` takes digits only (an empty or signed value is a 400): the schema says so, so a
    client or a fuzzer reading it does not send what is refused (found by
    tests/test_schemathesis.py, which sent `?since=`)."""
    documented = [
        parameter["schema"]
        for _path, _method, operation in operations(schema)
        for parameter in operation.get("parameters", [])
        if parameter["name"] == "since"
    ]
    assert len(documented) >= 3  # feed, notifications, messages
    for parameter_schema in documented:
        assert parameter_schema == {"type": "string", "pattern": "^[0-9]+$"}
        pattern = re.compile(parameter_schema["pattern"])
        assert pattern.search("0")
        assert pattern.search("456429368177224719")
        for refused in ("", "-1", "+1", " 1", "1_000", "1.5", "abc"):
            assert not pattern.search(refused), refused


def test_user_search_documents_q_beside_search(schema: dict[str, Any]) -> None:
    operation = schema["paths"]["/api/users/"]["get"]
    parameters = {p["name"]: p for p in operation["parameters"] if p["in"] == "query"}
    assert {"search", "q"} <= set(parameters)
    for name in ("search", "q"):
        assert parameters[name]["schema"] == {"type": "string", "maxLength": 100}
    assert "search" in parameters["q"]["description"]
    assert "400" in operation["responses"]


def test_pagination_is_documented(schema: dict[str, Any]) -> None:
    paginated = 0
    for path, method, operation in operations(schema):
        names = {p["name"] for p in operation.get("parameters", [])}
        if "cursor" not in names:
            continue
        paginated += 1
        assert "limit" in names, path
        body = operation["responses"]["200"]["content"]["application/json"]["schema"]
        ref = body["$ref"].rsplit("/", 1)[-1]
        page = schema["components"]["schemas"][ref]
        assert {"next", "previous", "results"} <= set(page["properties"]), (method, path)
        assert set(page["required"]) >= {"next", "previous", "results"}
    assert paginated >= 8


# --- Validity -----------------------------------------------------------------------------


def test_spectacular_validates_without_warnings(tmp_path: Path) -> None:
    target = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    document = yaml.safe_load(target.read_text())
    assert str(document["openapi"]).startswith("3.")


# --- Swagger UI, served locally -----------------------------------------------------------


class AssetCollector(HTMLParser):
    """Every URL the page loads: script src, link href, img src."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "script":
            self.scripts += 1
        for name in ("src", "href"):
            value = attributes.get(name)
            if value and tag in ("script", "link", "img", "iframe", "source"):
                self.urls.append(value)


def test_swagger_ui_is_served_from_local_static_files() -> None:
    client = APIClient()
    response = client.get("/api/docs/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()

    collector = AssetCollector()
    collector.feed(html)
    assert collector.scripts >= 1
    assert any(url.endswith(".js") for url in collector.urls)
    assert any(url.endswith(".css") for url in collector.urls)
    for url in collector.urls:
        assert url.startswith("/static/"), url
        assert not url.startswith("//"), url
    # No CDN anywhere in the page, not even inside inline scripts.
    assert not re.search(r"https?://", html), re.findall(r"https?://[^\s\"']+", html)
    assert not re.search(r"""["'(]//[a-z0-9-]+\.""", html)
    # It points at our own schema.
    assert "/api/schema/" in html

    # And every asset it needs is really there.
    for url in collector.urls:
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert b"".join(asset.streaming_content)  # type: ignore[attr-defined]
