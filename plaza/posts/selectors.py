"""Reads of posts, comments, likes and bookmarks. Each returns rows with what they render
already joined, so a page costs a fixed number of queries."""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

from django.db import connection, connections
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404

from plaza.accounts.models import User
from plaza.core.rawsql import ModelColumns, placeholders, table
from plaza.graph.selectors import (
    HIDDEN_USER_IDS_SQL,
    can_see_content_of,
    followed_by,
    without_blockers,
    without_hidden,
)
from plaza.media.models import MediaAttachment
from plaza.posts.models import Bookmark, Comment, Like, Pin, Post, PostEdit, Repost, Visibility
from plaza.tags.models import Mention, Tag

MAX_SEARCH_LENGTH = 100

# Reads take `viewer`: the signed-in reader (None for anonymous ones). Who may read a post,
# and the comments and likes on it, is `readable_by` (the feed's SQL applies the same rule);
# public lists (the public timeline, tag pages, search) show only public posts of public
# accounts. Lists also leave out the authors the viewer mutes or blocks, or who block the
# viewer (without_hidden); single objects are refused to those their author blocks. Each is
# a condition inside the read's own statement.

_WITHOUT_FOLLOWING = [Visibility.PUBLIC, Visibility.UNLISTED]
_TO_FOLLOWERS = [Visibility.PUBLIC, Visibility.UNLISTED, Visibility.FOLLOWERS]


def readable_by(viewer: User | None, post: str = "") -> Q:
    """The condition a post meets when `viewer` may read it (`post`: the path to the post,
    "" for posts, "post__" for the rows that point at one). Its author reads it, and so does
    every account it mentions, whatever its visibility; others read a public or unlisted
    post if its author is public or followed by them, and a followers-only one if they
    follow its author. A direct post is read by its author and those it mentions alone. No
    query of its own: conditions inside the statement that reads the rows."""
    author = f"{post}author"
    open_to_all = Q(**{f"{post}visibility__in": _WITHOUT_FOLLOWING, f"{author}__is_private": False})
    if viewer is None:
        return open_to_all
    mentioned = Exists(
        Mention.objects.filter(post_id=OuterRef(f"{post}id" if post else "pk"), user=viewer)
    )
    to_followers = Q(**{f"{post}visibility__in": _TO_FOLLOWERS}) & followed_by(
        viewer, f"{author}_id"
    )
    return Q(**{f"{author}_id": viewer.pk}) | open_to_all | to_followers | Q(mentioned)


def _publicly_listed(viewer: User | None) -> Q:
    """What public lists show: public posts of public accounts, and the viewer's own public
    posts (a private account sees what it would show, were it public)."""
    public = Q(visibility=Visibility.PUBLIC)
    if viewer is None:
        return public & Q(author__is_private=False)
    return public & (Q(author__is_private=False) | Q(author_id=viewer.pk))


def post_list(
    *,
    search: str = "",
    author: User | None = None,
    viewer: User | None = None,
    only_media: bool = False,
    tag: Tag | None = None,
    pinned: bool = False,
) -> QuerySet[Post]:
    """All posts, or one author's, newest first, optionally matching `search`, or using
    `tag` (a tag's page, as the public timeline), or `pinned` to their authors' profiles
    (with `author`: the top of a profile).

    Without `author` this is the public timeline: public posts of public accounts (and the
    viewer's own), as on Mastodon, where unlisted and followers-only posts reach followers
    through their home feed and the author's profile, never the public timeline, tag pages
    or search. That keeps the condition on the post's and author's rows, already joined: a
    "followed by the viewer" subquery in it made PostgreSQL join every account to the page
    (24 ms instead of 5.7 on the medium bench data set). With `author`, the posts the viewer
    may read (`readable_by`); with a private one, none unless the viewer may see its
    content (`can_see_content_of`, one query). `only_media` keeps the posts with
    pictures."""
    posts = without_hidden(Post.objects.select_related("author"), viewer, "author_id")
    if author is not None:
        if not can_see_content_of(viewer, author):
            return posts.none()
        posts = posts.filter(author=author)
        if viewer is None or viewer.pk != author.pk:
            posts = posts.filter(readable_by(viewer))
    else:
        posts = posts.filter(_publicly_listed(viewer))
    search = search.strip()[:MAX_SEARCH_LENGTH]
    if search:
        posts = posts.filter(Q(title__icontains=search) | Q(content__icontains=search))
    if only_media:  # a profile's media tab
        posts = posts.filter(Exists(MediaAttachment.objects.filter(post=OuterRef("pk"))))
    if tag is not None:
        # A join, not EXISTS: the page is then one range of the (tag, post) index.
        posts = posts.filter(tag_links__tag=tag)
    if pinned:  # the top of a profile
        posts = posts.filter(pin__isnull=False)
    return posts


_POST_COLUMNS = ModelColumns(Post, "p")
_AUTHOR_COLUMNS = ModelColumns(User, "u")
# Attaches a loaded author as the ORM's select_related does (`post.author = author` would
# also run the assignment's type and database-router checks: 50 µs a page).
_SET_AUTHOR = Post._meta.get_field("author").set_cached_value
_POSTS_BY_IDS = f"""
    SELECT {{post_columns}}, {{author_columns}}
    FROM {table(Post)} p INNER JOIN {table(User)} u ON u.id = p.author_id
    WHERE p.id IN ({{ids}}){{hidden}}
"""  # noqa: S608 - names from _meta
_NOT_HIDDEN = f" AND p.author_id NOT IN ({HIDDEN_USER_IDS_SQL})"


def posts_by_ids(ids: list[int], *, hidden_for: User | None = None) -> list[Post]:
    """Posts with these ids, with their authors, in the order of `ids` (missing ones skipped:
    a post deleted between reading a page's ids and loading it simply drops out). With
    `hidden_for`, posts by the accounts that viewer mutes, blocks or is blocked by drop out
    too, in the same statement.

    Every feed page runs this, so it is SQL rather than ORM (see plaza.core.rawsql)."""
    if not ids:
        return []
    # Nothing to leave out for most viewers: then the statement is the plain one.
    hiding = hidden_for.pk if hidden_for is not None and hidden_for.hides_anyone else None
    sql = _POSTS_BY_IDS.format(
        post_columns=_POST_COLUMNS.select_list,
        author_columns=_AUTHOR_COLUMNS.select_list,
        ids=placeholders(len(ids)),
        hidden="" if hiding is None else _NOT_HIDDEN,
    )
    params = list(ids) if hiding is None else [*ids, hiding, hiding, hiding]
    connection = connections["default"]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    width = _POST_COLUMNS.width
    # A page often shows one author several times: load each once.
    authors: dict[int, User] = {}
    by_id = {}
    for row in rows:
        post = _POST_COLUMNS.load(row[:width], connection)
        author = authors.get(post.author_id)
        if author is None:
            author = authors[post.author_id] = _AUTHOR_COLUMNS.load(row[width:], connection)
        _SET_AUTHOR(post, author)
        by_id[post.pk] = post
    return [by_id[post_id] for post_id in ids if post_id in by_id]


def post_by_id(post_id: int, *, viewer: User | None) -> Post:
    """The post, with its author; 404 if there is none, if `viewer` may not read it
    (`readable_by`), or if its author blocks `viewer` (to whom it is then as absent as a
    deleted post)."""
    posts = Post.objects.select_related("author").filter(readable_by(viewer), pk=post_id)
    post = without_blockers(posts, viewer, "author_id").first()
    if post is None:
        raise Http404("No such post.")
    return post


def post_to_unlike(post_id: int, *, viewer: User) -> Post:
    """The post whose like `viewer` takes back: one they may see, or one they liked before
    it went out of their sight (a block, a follower removed). Otherwise a 404, as for a
    missing post, so that nobody learns that a post they may not see exists."""
    liked = Post.objects.select_related("author").filter(pk=post_id, likes__user=viewer)
    return _visible_or_own(lambda: post_by_id(post_id, viewer=viewer), liked)


def post_to_unbookmark(post_id: int, *, viewer: User) -> Post:
    """The post whose bookmark `viewer` lets go of: as `post_to_unlike`, for bookmarks."""
    kept = Post.objects.select_related("author").filter(pk=post_id, bookmarks__user=viewer)
    return _visible_or_own(lambda: post_by_id(post_id, viewer=viewer), kept)


def post_to_unrepost(post_id: int, *, viewer: User) -> Post:
    """The post whose repost `viewer` takes back: as `post_to_unlike`, for reposts."""
    reposted = Post.objects.select_related("author").filter(pk=post_id, reposts__user=viewer)
    return _visible_or_own(lambda: post_by_id(post_id, viewer=viewer), reposted)


def bookmarks_of(viewer: User) -> QuerySet[Bookmark]:
    """The viewer's bookmarks, each with its post and the post's author joined, less the
    posts gone out of their sight since (a private author they no longer follow, a block, a
    mute): to be paged most recently kept first."""
    bookmarks = Bookmark.objects.filter(readable_by(viewer, "post__"), user=viewer)
    return without_hidden(bookmarks.select_related("post__author"), viewer, "post__author_id")


def comment_by_id(comment_id: int, *, viewer: User | None) -> Comment:
    """The comment, with its author; 404 if there is none, if `viewer` may not see its post
    (as `post_by_id`), or if its author blocks `viewer`. A comment is seen by whoever sees
    its post, whoever wrote it."""
    comments = Comment.objects.select_related("author").filter(
        readable_by(viewer, "post__"), pk=comment_id
    )
    comment = without_blockers(comments, viewer, "author_id", "post__author_id").first()
    if comment is None:
        raise Http404("No such comment.")
    return comment


def comment_to_delete(comment_id: int, *, viewer: User) -> Comment:
    """The comment `viewer` deletes: one they may see (the permission check then says
    whether it is theirs), or their own on a post gone out of their sight. Otherwise a 404,
    as for a missing comment."""
    own = Comment.objects.select_related("author").filter(pk=comment_id, author=viewer)
    return _visible_or_own(lambda: comment_by_id(comment_id, viewer=viewer), own)


_RowT = TypeVar("_RowT", Post, Comment)


def _visible_or_own(visible: Callable[[], _RowT], own: QuerySet[_RowT]) -> _RowT:
    """The row `visible` finds, or else the one `own` finds (what the viewer did to it, to
    undo); the first 404 if neither does."""
    try:
        return visible()
    except Http404:
        found = own.first()
        if found is None:
            raise
        return found


def post_history(post: Post) -> QuerySet[PostEdit]:
    """The post's versions, to be paged oldest (the original) first: none until it is
    first edited."""
    return PostEdit.objects.filter(post=post)


def comments_for_post(post: Post, *, viewer: User | None = None) -> QuerySet[Comment]:
    comments = Comment.objects.filter(post=post).select_related("author")
    return without_hidden(comments, viewer, "author_id")


def likes_for_post(post: Post) -> QuerySet[Like]:
    return Like.objects.filter(post=post).select_related("user")


def reposts_for_post(post: Post, *, viewer: User | None) -> QuerySet[Repost]:
    """Who reposted the post, with their accounts, less those the viewer mutes or blocks or
    who block the viewer: to be paged most recent first."""
    reposts = Repost.objects.filter(post=post).select_related("user")
    return without_hidden(reposts, viewer, "user_id")


@dataclass(frozen=True)
class ViewerMarks:
    """Which posts of a page the viewer has liked, bookmarked, pinned and reposted."""

    liked: frozenset[int] = frozenset()
    bookmarked: frozenset[int] = frozenset()
    pinned: frozenset[int] = frozenset()
    reposted: frozenset[int] = frozenset()


_MARK_LIKED, _MARK_BOOKMARKED, _MARK_PINNED, _MARK_REPOSTED = 0, 1, 2, 3
_MARKS_AMONG = (
    f"SELECT {_MARK_LIKED}, post_id FROM {table(Like)} WHERE user_id = %s AND post_id IN ({{ids}})"  # noqa: S608 - names from _meta
    f" UNION ALL SELECT {_MARK_BOOKMARKED}, post_id FROM {table(Bookmark)}"
    " WHERE user_id = %s AND post_id IN ({ids})"
    f" UNION ALL SELECT {_MARK_PINNED}, post_id FROM {table(Pin)}"
    " WHERE user_id = %s AND post_id IN ({ids})"
    f" UNION ALL SELECT {_MARK_REPOSTED}, post_id FROM {table(Repost)}"
    " WHERE user_id = %s AND post_id IN ({ids})"
)


def viewer_marks(*, viewer: User, posts: Iterable[Post]) -> ViewerMarks:
    """Which of `posts` the viewer has liked, bookmarked, pinned and reposted: one query for
    a whole page (each branch one range of a unique index that starts with the user)."""
    ids = [post.pk for post in posts]
    if not ids or not viewer.is_authenticated:
        return ViewerMarks()
    # Every page of posts runs this: SQL rather than ORM (see plaza.core.rawsql).
    sql = _MARKS_AMONG.format(ids=placeholders(len(ids)))
    marked: tuple[set[int], ...] = (set(), set(), set(), set())
    with connection.cursor() as cursor:
        cursor.execute(sql, [viewer.pk, *ids] * len(marked))
        for mark, post_id in cursor.fetchall():
            marked[mark].add(post_id)
    return ViewerMarks(
        liked=frozenset(marked[_MARK_LIKED]),
        bookmarked=frozenset(marked[_MARK_BOOKMARKED]),
        pinned=frozenset(marked[_MARK_PINNED]),
        reposted=frozenset(marked[_MARK_REPOSTED]),
    )
