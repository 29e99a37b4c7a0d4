"""Posts written before Plaza read mentions, hashtags and links: their entities, tags (with
each day's uses) and mentions, as a new post gets them. No notifications: those posts are
old news."""

from django.db import migrations
from django.db.models import Q
from django.db.models.functions import Lower

from plaza.tags.parsing import entities_of, parse_text

CHUNK = 1000


def link_existing_posts(apps, schema_editor):  # type: ignore[no-untyped-def]
    Post = apps.get_model("posts", "Post")
    User = apps.get_model("accounts", "User")
    Tag = apps.get_model("tags", "Tag")
    PostTag = apps.get_model("tags", "PostTag")
    TagUse = apps.get_model("tags", "TagUse")
    Mention = apps.get_model("tags", "Mention")
    referring = Post.objects.filter(
        Q(content__contains="@") | Q(content__contains="#") | Q(content__contains="://")
    ).only("id", "author_id", "content", "created_at")
    uses: dict[tuple[int, object, int], int] = {}
    for post in referring.iterator(chunk_size=CHUNK):
        spans = parse_text(post.content)
        names = {span.value.lower() for span in spans if span.kind == "mention"}
        accounts = {
            username.lower(): (username, pk)
            for pk, username in User.objects.alias(name=Lower("username"))
            .filter(name__in=names, is_active=True)
            .values_list("pk", "username")
        } if names else {}
        post.entities = entities_of(spans, accounts)
        post.save(update_fields=["entities"])
        tag_names = list(dict.fromkeys(s.value for s in spans if s.kind == "hashtag"))
        if tag_names:
            Tag.objects.bulk_create([Tag(name=name) for name in tag_names], ignore_conflicts=True)
            tag_ids = list(Tag.objects.filter(name__in=tag_names).values_list("pk", flat=True))
            PostTag.objects.bulk_create(
                [PostTag(post_id=post.pk, tag_id=tag_id) for tag_id in tag_ids]
            )
            for tag_id in tag_ids:
                key = (tag_id, post.created_at.date(), post.author_id)
                uses[key] = uses.get(key, 0) + 1
        Mention.objects.bulk_create(
            [
                Mention(post_id=post.pk, user_id=pk)
                for pk in dict.fromkeys(pk for _name, pk in accounts.values())
            ]
        )
    TagUse.objects.bulk_create(
        [
            TagUse(tag_id=tag_id, day=day, account_id=account_id, posts=count)
            for (tag_id, day, account_id), count in uses.items()
        ],
        batch_size=CHUNK,
    )


class Migration(migrations.Migration):
    dependencies = [("tags", "0001_initial")]

    operations = [migrations.RunPython(link_existing_posts, migrations.RunPython.noop)]
