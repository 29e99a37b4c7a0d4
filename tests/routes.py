"""The REST face's routes, found by walking Django's resolver (not a hand-kept list), so
tests that must cover every route notice a new one."""

import re
from collections.abc import Iterator
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver

REST_URLCONF = "plaza.rest.urls"
HTTP_METHODS = ("get", "post", "put", "patch", "delete")


def _walk(patterns: list[Any], prefix: str) -> Iterator[tuple[str, URLPattern]]:
    for entry in patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, route)
        else:
            yield route, entry


def served_methods(pattern: URLPattern) -> set[str]:
    """The HTTP methods (lower case, besides HEAD and OPTIONS) a class-based view answers,
    honouring `http_method_names` given to as_view()."""
    callback: Any = pattern.callback
    view = callback.view_class
    names = callback.view_initkwargs.get("http_method_names", view.http_method_names)
    return {name for name in names if name in HTTP_METHODS and hasattr(view, name)}


def rest_routes() -> dict[str, set[str]]:
    """Every route of plaza.rest.urls as OpenAPI-style paths with their lower-case methods:
    {"/api/posts/{post_id}/": {"get", "put", "patch", "delete"}, ...}."""
    routes: dict[str, set[str]] = {}
    for entry in get_resolver().url_patterns:
        module = getattr(entry, "urlconf_name", None)
        if isinstance(entry, URLResolver) and getattr(module, "__name__", module) == REST_URLCONF:
            for route, pattern in _walk(entry.url_patterns, "/" + str(entry.pattern)):
                routes[re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)] = served_methods(pattern)
    assert routes, f"{REST_URLCONF} is not included in the root urlconf"
    return routes


# What a full page of each list costs in SQL queries, signed in, with every kind of item it
# can hold; tests/test_query_counts.py proves each list costs the same for one item, a full
# page and the page after it, and that every list route is here. A change to a number is a
# regression (an N+1, a forgotten select_related) or a deliberate improvement.
LIST_QUERIES = {
    "/api/users/": 2,  # token, page
    "/api/users/{username}/followers/": 3,  # token, user, page
    "/api/users/{username}/following/": 3,  # token, user, page
    "/api/follow-requests/": 2,  # token, page with requesters
    "/api/me/blocks/": 2,  # token, page with accounts
    "/api/me/mutes/": 2,  # token, page with accounts
    # token, page with posts and authors, the viewer's likes and bookmarks, the attachments
    "/api/me/bookmarks/": 4,
    # token, page with authors, the viewer's likes and bookmarks among them, their attachments
    "/api/posts/": 4,
    "/api/posts/{post_id}/comments/": 3,  # token, post, page
    "/api/posts/{post_id}/likes/": 3,  # token, post, page
    "/api/posts/{post_id}/reposted-by/": 3,  # token, post, page
    "/api/posts/{post_id}/history/": 4,  # token, post, page, the versions' pictures
    # token, tag, page with authors, the viewer's likes and bookmarks, the attachments
    "/api/tags/{name}/posts/": 5,
    "/api/me/tags/": 4,  # token, page with tags, their histories, which the viewer follows
    # token, the page's ids, those posts with authors, the viewer's likes and bookmarks, the
    # attachments
    "/api/feed/": 5,
    # token, page with actors, then one per kind of target: follows, likes+posts,
    # comments+posts, mentions+posts, versions+posts, reposts+posts
    "/api/notifications/": 8,
    # token, the page (with last messages, senders and unread counts), its participants
    "/api/conversations/": 3,
    "/api/conversations/{conversation_id}/messages/": 3,  # token, membership, page with senders
}
