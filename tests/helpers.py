"""Helpers the test modules share: signed-in clients, query counts that show their SQL, and
the OpenAPI schema as a strict JSON Schema."""

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from plaza.accounts.models import User
from tests.factories import token_for

PAGE = 20  # the default page size of every list

# What the `module_db` and `class_db` fixtures give: `with module_db():` opens the database
# for rows that the module's (or the class's) tests share.
SharedRows = Callable[[], AbstractContextManager[None]]


def client_for(user: User) -> APIClient:
    """A client signed in as `user`, with a real token of its own in the header, and its
    middleware already loaded (as the first request would), so that a thread given it in a
    race does nothing but send requests."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(user)}")
    client.handler.load_middleware()
    return client


class QueryCount(int):
    """How many SQL queries something made, with the statements: a failed comparison lists
    them (tests/conftest.py, pytest_assertrepr_compare), so that a wrong count says at once
    which query came or went."""

    statements: list[str]

    def __new__(cls, statements: list[str]) -> "QueryCount":
        count = super().__new__(cls, len(statements))
        count.statements = statements
        return count

    def __repr__(self) -> str:
        return f"{int(self)} queries"

    def explain(self) -> list[str]:
        return [f"{n}. {' '.join(sql.split())[:400]}" for n, sql in enumerate(self.statements, 1)]


def count_queries(action: Callable[[], object]) -> QueryCount:
    """Run a callable and count the SQL queries it made."""
    with CaptureQueriesContext(connection) as context:
        action()
    return QueryCount([query["sql"] for query in context.captured_queries])


def page_queries(client: APIClient, url: str, expected: int) -> QueryCount:
    """Queries for one GET of `url`, after checking it answers 200 with `expected` items (any
    number when `expected` is negative) and warming any per-process cache."""
    response = client.get(url)
    assert response.status_code == 200, response.content
    if expected >= 0:
        assert len(response.json()["results"]) == expected

    def get() -> None:
        assert client.get(url).status_code == 200

    return count_queries(get)


def assert_flat(client: APIClient, url: str, grow: Callable[[], object]) -> QueryCount:
    """Measure `url` with one item, grow it past a full page, measure the full first page and
    the page after it (a cursor must not cost more): all three must match."""
    one = page_queries(client, url, 1)
    grow()
    full = page_queries(client, url, PAGE)
    assert one == full, f"{url}: {one!r} for 1 item but {full!r} for {PAGE}"
    next_url = client.get(url).json()["next"]
    assert next_url, "grow() must make more than one page"
    second = page_queries(client, next_url, -1)
    assert second == full, f"{url}: {full!r} for the first page but {second!r} for the next"
    return full


def strict_schema(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    """An OpenAPI 3.0 schema as a JSON Schema that accepts exactly what it declares: refs
    inlined, `nullable` as a null alternative, and no property an object does not declare."""
    if "$ref" in schema:
        return strict_schema(components[schema["$ref"].rsplit("/", 1)[-1]], components)
    converted: dict[str, Any] = {}
    for key, value in schema.items():
        if key in {"nullable", "readOnly", "writeOnly", "description", "format"}:
            continue
        if key == "properties":
            converted[key] = {name: strict_schema(part, components) for name, part in value.items()}
        elif key in {"items", "additionalProperties"} and isinstance(value, dict):
            converted[key] = strict_schema(value, components)
        elif key in {"allOf", "anyOf", "oneOf"}:
            converted[key] = [strict_schema(part, components) for part in value]
        else:
            converted[key] = value
    if "properties" in converted:
        converted.setdefault("additionalProperties", False)
    if schema.get("nullable"):
        return {"anyOf": [converted, {"type": "null"}]}
    return converted


# --- Paths and answers ----------------------------------------------------------------------


def follow_url(user: User) -> str:
    return f"/api/users/{user.username}/follow/"


def ok(response: Any, *statuses: int) -> Any:
    """The response, once it is one of `statuses` (any success by default)."""
    assert response.status_code in (statuses or (200, 201, 204)), response.content
    return response


def ids(response: Any) -> list[str]:
    """The ids of a 200 page, in order."""
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["results"]]


def error_code(response: Any, status: int) -> str:
    """The `code` of an answer in the one error shape, once its status is `status`."""
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "message", "fields"}
    code: str = body["code"]
    return code


# --- The admin ------------------------------------------------------------------------------

ADD_USER = "/admin/accounts/user/add/"


def admin_add(client: Client, username: str, email: str) -> Any:
    """Add an account through the admin's form, as a staff member would."""
    form = {
        "username": username,
        "email": email,
        "usable_password": "true",
        "password1": "a long enough passphrase 9",
        "password2": "a long enough passphrase 9",
    }
    return client.post(ADD_USER, form)
