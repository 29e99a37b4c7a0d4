"""Reads of posts, comments and likes. Each returns rows with what they render already
joined, so a page costs a fixed number of queries."""

from collections.abc import Iterable

from django.db.models import Q, QuerySet
from django.http import Http404

from plaza.accounts.models import User
from plaza.posts.models import Comment, Like, Post

MAX_SEARCH_LENGTH = 100


def post_list(*, search: str = "", author: User | None = None) -> QuerySet[Post]:
    posts = Post.objects.select_related("author")
    if author is not None:
        posts = posts.filter(author=author)
    search = search.strip()[:MAX_SEARCH_LENGTH]
    if search:
        posts = posts.filter(Q(title__icontains=search) | Q(content__icontains=search))
    return posts


def posts_by_ids(ids: list[int]) -> list[Post]:
    """Posts with these ids, with their authors, in the order of `ids` (missing ones skipped:
    a post deleted between reading a page's ids and loading it simply drops out)."""
    by_id = Post.objects.select_related("author").in_bulk(ids)
    return [by_id[post_id] for post_id in ids if post_id in by_id]


def post_by_id(post_id: int) -> Post:
    post = Post.objects.select_related("author").filter(pk=post_id).first()
    if post is None:
        raise Http404("No such post.")
    return post


def comment_by_id(comment_id: int) -> Comment:
    comment = Comment.objects.select_related("author").filter(pk=comment_id).first()
    if comment is None:
        raise Http404("No such comment.")
    return comment


def comments_for_post(post: Post) -> QuerySet[Comment]:
    return Comment.objects.filter(post=post).select_related("author")


def likes_for_post(post: Post) -> QuerySet[Like]:
    return Like.objects.filter(post=post).select_related("user")


def post_ids_liked_by(*, viewer: User, posts: Iterable[Post]) -> set[int]:
    """Which of `posts` the viewer has liked: one query for a whole page."""
    ids = [post.pk for post in posts]
    if not ids or not viewer.is_authenticated:
        return set()
    return set(Like.objects.filter(user=viewer, post_id__in=ids).values_list("post_id", flat=True))
