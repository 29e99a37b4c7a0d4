"""Property-based fuzzing of every operation in the OpenAPI schema, with schemathesis.

The schema is loaded from the application itself (GET /api/schema/ through its WSGI handler,
in-process), so what is fuzzed is exactly what clients are told. For every operation,
schemathesis generates requests from the schema: valid ones (positive mode), invalid ones
(negative mode: wrong types, missing fields, out-of-range values), and a coverage phase of
boundary values and undeclared HTTP methods. Every answer must

* not be a 5xx (`not_a_server_error`),
* have a status code the operation documents (`status_code_conformance`),
* have a documented content type and headers (`content_type_conformance`,
  `response_headers_conformance`),
* have a body that validates against the documented schema of that status
  (`response_schema_conformance`),
* not be a 2xx without the token when the operation requires one (`ignored_auth`), and
* be a 405 with `Allow` for a method the operation does not document (`unsupported_method`).

Two checks of schemathesis are not run, on purpose:

* `positive_data_acceptance` expects every schema-valid request to succeed, but many are
  refused for reasons a schema cannot state: a wrong password, a username nobody has, a reset
  or verification token that was never issued, a cursor the server did not make, a weak
  password. Running it once found the two refusals that the schema could state (a PATCH of a
  comment without `content`, a `since` that is not digits); both are fixed and tested in
  tests/test_comments.py and tests/test_schema.py.
* `negative_data_rejection` expects every schema-invalid request to be refused, but Plaza is
  lenient on purpose in documented ways: a bad `?limit=` falls back to the default page size
  (docs/api.md#pagination) and a number sent for a text field is read as its text. The strict
  refusals are tested in tests/test_errors.py.

Requests carry a real token of a user created in the test database; a signed-out pass runs
every operation again without one. Path parameters point at real objects, made once for the
module (the user's own post, comment, notification, conversation and upload, another user's
name), so that requests reach the code behind the 404, invalid bodies and queries included; paths
generated invalid on purpose keep their generated values. Every example runs in the test's
transaction (the WSGI handler runs in the test's thread, on its connection), inside a savepoint
rolled back after it: whatever an example deletes or revokes, the next one finds the same
world. Django's closing of connections at the end of a request is suspended as Django's own
test client does, or the first answer would end the transaction.

Runs are reproducible (derandomized, no example database); MAX_EXAMPLES bounds the time.
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from config.wsgi import application
from plaza.graph.services import follow_create
from plaza.messaging.services import conversation_get_or_create, message_send
from plaza.notifications.models import Notification
from plaza.posts.services import post_create
from plaza.tags.services import tag_follow_create
from tests.factories import (
    CommentFactory,
    FollowRequestFactory,
    PostFactory,
    UserFactory,
    token_for,
    upload_for,
)
from tests.helpers import SharedRows

schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    ignored_auth,
    unsupported_method,
]

# Examples per operation and generation mode, on top of the coverage phase's boundary values.
# The default is the quick pass of `make test`; `make fuzz` sets FUZZ_MAX_EXAMPLES=100.
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "5"))

fuzz_settings = settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    # The test's database and transaction are shared by all its examples on purpose: what
    # they act on is made once for the module (`shared_world`), and each example runs in a
    # savepoint rolled back after it (`undone`).
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
    ],
)


@dataclass
class World:
    """A user with one of everything a path parameter can name."""

    token: str
    path_parameters: dict[str, str]


def make_world() -> World:
    owner = UserFactory.create()
    other = UserFactory.create()
    post = PostFactory.create(author=owner)
    post_create(author=owner, content="Tagged #plaza")
    tag_follow_create(user=owner, name="plaza")
    comment = CommentFactory.create(post=post, author=owner)
    follow_create(follower=other, followee=owner)
    conversation, _created = conversation_get_or_create(creator=other, usernames=[owner.username])
    message_send(sender=other, conversation=conversation, body="Hello")
    notification = Notification.objects.filter(recipient=owner).latest("pk")
    follow_request = FollowRequestFactory.create(target=owner)
    media = upload_for(owner)
    return World(
        token=token_for(owner),
        path_parameters={
            "username": other.username,
            "post_id": str(post.pk),
            "comment_id": str(comment.pk),
            "notification_id": str(notification.pk),
            "conversation_id": str(conversation.pk),
            "request_id": str(follow_request.pk),
            "media_id": str(media.pk),
            "name": "plaza",
        },
    )


@pytest.fixture(scope="module")
def shared_world(module_db: SharedRows) -> World:
    with module_db():
        return make_world()


@pytest.fixture
def world(in_test_transaction: None, shared_world: World) -> World:
    return shared_world


@contextmanager
def undone() -> Iterator[None]:
    """Run a block in a savepoint of the test's transaction and roll it back afterwards."""
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


@pytest.fixture
def in_test_transaction(db: None) -> Iterator[None]:
    """Keep the test's connection (and its transaction) open across requests, as Django's
    test client does, since the WSGI handler would close it at the end of each request."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def point_at_real_objects(case: schemathesis.Case, world: World) -> None:
    """Valid paths name the world's objects; a path generated invalid on purpose stays so."""
    meta = case.meta
    if case.path_parameters and not (
        meta is not None and meta.is_negative_at(ParameterLocation.PATH)
    ):
        for name in case.path_parameters:
            case.path_parameters[name] = world.path_parameters[name]


@schema.parametrize()
@fuzz_settings
def test_every_operation_answers_as_documented(case: schemathesis.Case, world: World) -> None:
    point_at_real_objects(case, world)
    with undone():
        case.call_and_validate(headers={"Authorization": f"Token {world.token}"}, checks=CHECKS)


@schema.parametrize()
@fuzz_settings
def test_every_operation_answers_as_documented_when_signed_out(
    case: schemathesis.Case, world: World
) -> None:
    point_at_real_objects(case, world)
    if case.headers:
        case.headers.pop("Authorization", None)
    with undone():
        case.call_and_validate(checks=CHECKS)
