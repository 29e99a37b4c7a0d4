"""Background work of the real-time face."""

from celery import shared_task

from plaza.graph.models import Follow, Mute
from plaza.posts.selectors import posts_by_ids
from plaza.realtime.events import publish
from plaza.realtime.presence import presence

# Online users checked against the author's followers per query.
ONLINE_BATCH = 1000


@shared_task(ignore_result=True)
def publish_post_to_followers(post_id: int) -> None:
    """Send `feed.post` to the connected followers of the post's author who do not mute them
    (and the author's own sessions: their feed shows their posts too). Works from who is
    online rather than from the followers, so an account with 75,000 followers costs what
    the online users do."""
    from plaza.rest.posts import PostSerializer  # the REST rendering; see services.py

    online = presence().online()
    if not online:  # nobody to tell: not even worth loading the post
        return
    posts = posts_by_ids([post_id])
    if not posts:  # deleted meanwhile
        return
    post = posts[0]
    recipients = [post.author_id] if post.author_id in online else []
    # Followers who mute the author do not get it: their feed does not show it either.
    muters = Mute.objects.filter(muted_id=post.author_id).values("muter_id")
    for start in range(0, len(online), ONLINE_BATCH):
        batch = online[start : start + ONLINE_BATCH]
        recipients += (
            Follow.objects.filter(followee_id=post.author_id, follower_id__in=batch)
            .exclude(follower_id__in=muters)
            .values_list("follower_id", flat=True)
        )
    if recipients:
        data = PostSerializer(post, context={"request": None, "liked_post_ids": set()}).data
        publish(recipients, "feed.post", data, event_id=str(post.pk))
