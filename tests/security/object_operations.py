"""Every route that names an object, with what an attacker pointing it at the victim's
objects must get (tests/security/test_api1_object_level_authorization.py checks the table covers
the urlconf; test_api5 reuses the refused ones)."""

from dataclasses import dataclass
from enum import Enum


class Rule(Enum):
    PUBLIC = "anyone may read it"
    REFUSED = "refused, and nothing changes"
    OWN = "acts on the caller's own relation only; nobody else's rows change"


@dataclass(frozen=True)
class Expect:
    rule: Rule
    status: int  # what the attacker gets
    body: dict | None = None


EDIT_POST = {"title": "Pwned", "content": "Pwned"}

OBJECT_OPERATIONS: dict[tuple[str, str], Expect] = {
    ("GET", "/api/posts/{post_id}/"): Expect(Rule.PUBLIC, 200),
    ("PUT", "/api/posts/{post_id}/"): Expect(Rule.REFUSED, 403, EDIT_POST),
    ("PATCH", "/api/posts/{post_id}/"): Expect(Rule.REFUSED, 403, EDIT_POST),
    ("DELETE", "/api/posts/{post_id}/"): Expect(Rule.REFUSED, 403),
    ("GET", "/api/posts/{post_id}/comments/"): Expect(Rule.PUBLIC, 200),
    ("POST", "/api/posts/{post_id}/comments/"): Expect(Rule.OWN, 201, {"content": "Hi"}),
    ("POST", "/api/posts/{post_id}/like/"): Expect(Rule.OWN, 201),
    ("DELETE", "/api/posts/{post_id}/like/"): Expect(Rule.OWN, 204),
    ("GET", "/api/posts/{post_id}/likes/"): Expect(Rule.PUBLIC, 200),
    ("POST", "/api/posts/{post_id}/repost/"): Expect(Rule.OWN, 201),
    ("DELETE", "/api/posts/{post_id}/repost/"): Expect(Rule.OWN, 204),
    ("GET", "/api/posts/{post_id}/reposted-by/"): Expect(Rule.PUBLIC, 200),
    ("GET", "/api/posts/{post_id}/history/"): Expect(Rule.PUBLIC, 200),
    # Only the author pins their post; unpinning someone else's changes nothing of theirs.
    ("POST", "/api/posts/{post_id}/pin/"): Expect(Rule.REFUSED, 403),
    ("DELETE", "/api/posts/{post_id}/pin/"): Expect(Rule.OWN, 204),
    ("POST", "/api/posts/{post_id}/bookmark/"): Expect(Rule.OWN, 201),
    ("DELETE", "/api/posts/{post_id}/bookmark/"): Expect(Rule.OWN, 204),
    ("GET", "/api/tags/{name}/"): Expect(Rule.PUBLIC, 200),
    ("GET", "/api/tags/{name}/posts/"): Expect(Rule.PUBLIC, 200),
    # The victim follows the tag: the attacker's follow is the attacker's own.
    ("POST", "/api/tags/{name}/follow/"): Expect(Rule.OWN, 201),
    ("DELETE", "/api/tags/{name}/follow/"): Expect(Rule.OWN, 204),
    ("GET", "/api/comments/{comment_id}/"): Expect(Rule.PUBLIC, 200),
    ("PATCH", "/api/comments/{comment_id}/"): Expect(Rule.REFUSED, 403, {"content": "Pwned"}),
    ("DELETE", "/api/comments/{comment_id}/"): Expect(Rule.REFUSED, 403),
    ("POST", "/api/notifications/{notification_id}/read/"): Expect(Rule.REFUSED, 404),
    ("GET", "/api/conversations/{conversation_id}/"): Expect(Rule.REFUSED, 404),
    ("GET", "/api/conversations/{conversation_id}/messages/"): Expect(Rule.REFUSED, 404),
    ("POST", "/api/conversations/{conversation_id}/messages/"): Expect(
        Rule.REFUSED, 404, {"body": "Let me in"}
    ),
    ("POST", "/api/conversations/{conversation_id}/read/"): Expect(Rule.REFUSED, 404),
    ("GET", "/api/users/{username}/"): Expect(Rule.PUBLIC, 200),
    ("GET", "/api/users/{username}/followers/"): Expect(Rule.PUBLIC, 200),
    ("GET", "/api/users/{username}/following/"): Expect(Rule.PUBLIC, 200),
    ("POST", "/api/users/{username}/follow/"): Expect(Rule.OWN, 201),
    ("DELETE", "/api/users/{username}/follow/"): Expect(Rule.OWN, 204),
    ("POST", "/api/users/{username}/block/"): Expect(Rule.OWN, 201),
    ("DELETE", "/api/users/{username}/block/"): Expect(Rule.OWN, 204),
    ("POST", "/api/users/{username}/mute/"): Expect(Rule.OWN, 201),
    ("DELETE", "/api/users/{username}/mute/"): Expect(Rule.OWN, 204),
    # The victim's pending follow request: only the victim answers it.
    ("POST", "/api/follow-requests/{request_id}/accept/"): Expect(Rule.REFUSED, 404),
    ("POST", "/api/follow-requests/{request_id}/reject/"): Expect(Rule.REFUSED, 404),
    # The victim's upload: only its owner reads, edits or deletes it.
    ("GET", "/api/media/{media_id}/"): Expect(Rule.REFUSED, 404),
    ("PATCH", "/api/media/{media_id}/"): Expect(Rule.REFUSED, 404, {"description": "Pwned"}),
    ("DELETE", "/api/media/{media_id}/"): Expect(Rule.REFUSED, 404),
    # Removes the victim from the attacker's own followers (they were not one).
    ("DELETE", "/api/me/followers/{username}/"): Expect(Rule.OWN, 204),
}
