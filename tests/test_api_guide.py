"""docs/api.md stays true: every route the REST face serves is in its endpoints table with
each of its methods, and every JSON example in it is exactly a shape the OpenAPI schema
declares (an answer of the operation its section is about, with the status it shows)."""

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from rest_framework.test import APIClient

from tests.helpers import strict_schema
from tests.routes import rest_routes

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "api.md"
METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    response = APIClient().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return json.loads(response.content)


def generic(path: str) -> str:
    """A path with its parameters unnamed: the guide says `{id}` where the schema says
    `{post_id}`."""
    return re.sub(r"{\w+}", "{}", path.split("?")[0])


def operations_named(text: str) -> set[tuple[str, str]]:
    """The (method, generic path) pairs a line of the guide names in its code spans:
    "`GET`, `POST /api/posts/{id}/comments/`" names two; "`POST /api/users/{username}/block/`,
    `/mute/`" names the same methods on a sibling path."""
    named: set[tuple[str, str]] = set()
    pending: list[str] = []
    methods: list[str] = []
    path = ""
    for span in re.findall(r"`([^`]+)`", text):
        words = span.split(" ", 1)
        if span in METHODS:
            pending.append(span)
            continue
        if words[0] in METHODS and len(words) == 2 and words[1].startswith("/api/"):
            methods, path = [*pending, words[0]], words[1]
        elif span.startswith("/") and path and not span.startswith("/api/"):
            path = path.rstrip("/").rsplit("/", 1)[0] + span  # a sibling of the last path
        else:
            continue
        pending = []
        named |= {(method.lower(), generic(path)) for method in methods}
    return named


def endpoints_table() -> set[tuple[str, str]]:
    section = GUIDE.read_text().split("\n## Endpoints\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return set().union(*(operations_named(row.split(" | ")[0]) for row in rows))


def test_every_route_and_method_is_in_the_endpoints_table() -> None:
    served = {
        (method, generic(path)) for path, methods in rest_routes().items() for method in methods
    }
    listed = endpoints_table()
    assert served - listed == set(), "routes the guide's endpoints table does not list"
    assert listed - served == set(), "the guide lists routes that are not served"


def json_examples() -> list[tuple[str, str]]:
    """Each ```json block of the guide, with the heading of the section it is in."""
    examples = []
    heading = ""
    in_block = False
    lines: list[str] = []
    for line in GUIDE.read_text().splitlines():
        if line.startswith("#"):
            heading = line
        elif line == "```json":
            in_block, lines = True, []
        elif line == "```" and in_block:
            in_block = False
            examples.append((heading, "\n".join(lines)))
        elif in_block:
            lines.append(line)
    return examples


def test_the_guide_has_json_examples() -> None:
    assert len(json_examples()) >= 8


@pytest.mark.parametrize(("heading", "example"), json_examples(), ids=lambda value: str(value)[:40])
def test_every_json_example_is_a_declared_shape(
    openapi: dict[str, Any], heading: str, example: str
) -> None:
    components = openapi["components"]["schemas"]
    status, _, body = example.partition("\n")
    if re.fullmatch(r"\d{3}", status):
        value = json.loads(body)
        by_path = {generic(path): item for path, item in openapi["paths"].items()}
        candidates = [
            response["content"]["application/json"]["schema"]
            for method, path in operations_named(heading)
            for response in [by_path[path][method]["responses"].get(status, {})]
            if "content" in response
        ]
        assert candidates, f"{heading} names no operation that answers {status}"
    else:  # an object as it renders everywhere: some component must be exactly it
        value = json.loads(example)
        candidates = [{"$ref": f"#/components/schemas/{name}"} for name in components]
    failures = []
    for schema in candidates:
        try:
            jsonschema.validate(value, strict_schema(schema, components))
            return
        except jsonschema.ValidationError as error:
            failures.append(error.message)
    pytest.fail(f"{heading}: the example matches no declared shape: {failures[:3]}")
