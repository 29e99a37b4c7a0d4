"""Load a small demo network so a first look at Plaza is not an empty feed.

Everything goes through the services, so counters and notifications are exactly what real
use would have produced. Running it twice changes nothing.
"""

import io
import random
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from plaza.accounts.models import User
from plaza.accounts.services import profile_image_set
from plaza.graph.services import follow_create
from plaza.media.services import media_upload
from plaza.operations.demo_pictures import avatar, landscape
from plaza.posts.services import comment_create, like_create, post_create

DEMO_PASSWORD = "plaza-demo-2026"  # noqa: S105 - documented demo credential

PEOPLE = [
    ("alice", "Alice Martin", "Backend engineer. Coffee, climbing, Postgres."),
    ("bob", "Bob Okafor", "Photographer. I post more than I should."),
    ("carol", "Carol Nguyen", "Reading list curator and amateur baker."),
    ("dave", "Dave Rossi", "Cycling to work, rain or shine."),
    ("erin", "Erin Schmidt", "Open source maintainer, plant enthusiast."),
]
AVATAR_COLOURS = [(52, 101, 164), (204, 102, 0), (115, 70, 150), (46, 125, 50), (183, 28, 28)]
# Posts that come with pictures: how many, and their alt text.
PICTURES = {
    "Photo walk": ["Hills under a low sun at the old harbour", "The same view, later"],
    "Ride report": ["The river path at dawn"],
    "Sourdough, day 4": ["A sky the colour of a good crust"],
}

POSTS = [
    ("Hello, Plaza", "First post here. Who else is around?"),
    ("Sourdough, day 4", "The starter finally doubled overnight. Bread on Saturday."),
    ("Ride report", "42 km along the river this morning, and not a single puncture."),
    ("Reading", "Halfway through a book on distributed systems. Clocks are hard."),
    ("Photo walk", "Golden hour at the old harbour. The light was unreal."),
    ("Release day", "Shipped a new version of my library: faster startup, fewer deps."),
    ("Question", "What is your favourite small tool that does one thing well?"),
    ("Plants", "The monstera has a new leaf. I am unreasonably proud."),
]

COMMENTS = [
    "Love this!",
    "Tell me more.",
    "Same here, great minds.",
    "This made my day.",
    "Photos or it didn't happen.",
]


class Command(BaseCommand):
    help = (
        "Create demo users (password: plaza-demo-2026) with avatars, posts (some with "
        "pictures), follows, likes, comments."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        names = [username for username, _, _ in PEOPLE]
        taken = sorted(User.objects.filter(username__in=names).values_list("username", flat=True))
        if taken == names:
            self.stdout.write("Demo data is already loaded.")
            self._print_credentials()
            return
        if taken:
            raise CommandError(
                f"Usernames the demo needs are taken by other accounts: {', '.join(taken)}. "
                "Load the demo into a fresh database (for example DATABASE_URL=sqlite:///demo.sqlite3)."
            )
        rng = random.Random(2026)  # noqa: S311 - the same demo network every time
        with transaction.atomic():
            users = []
            for (username, display_name, bio), colour in zip(PEOPLE, AVATAR_COLOURS, strict=True):
                user = User.objects.create_user(
                    username=username,
                    email=f"{username}@example.com",
                    password=DEMO_PASSWORD,
                    display_name=display_name,
                    bio=bio,
                )
                profile_image_set(user=user, which="avatar", upload=io.BytesIO(avatar(colour)))
                users.append(user)
            self.stdout.write(f"Created {len(users)} users.")
            for follower in users:
                for followee in users:
                    if follower != followee and rng.random() < 0.7:
                        follow_create(follower=follower, followee=followee)
            posts = []
            pictures = 0
            for index, (title, content) in enumerate(POSTS * 2):
                author = users[index % len(users)]
                media_ids = [
                    media_upload(
                        owner=author,
                        upload=io.BytesIO(landscape(seed=index * 10 + number)),
                        description=description,
                    ).pk
                    for number, description in enumerate(PICTURES.get(title, []))
                ]
                pictures += len(media_ids)
                posts.append(
                    post_create(author=author, title=title, content=content, media_ids=media_ids)
                )
            self.stdout.write(f"Created {len(posts)} posts with {pictures} pictures.")
            for post in posts:
                for user in rng.sample(users, k=rng.randint(0, 4)):
                    like_create(user=user, post=post)
                for user in rng.sample(users, k=rng.randint(0, 2)):
                    comment_create(author=user, post=post, content=rng.choice(COMMENTS))
        self.stdout.write(self.style.SUCCESS("Demo network loaded."))
        self._print_credentials()

    def _print_credentials(self) -> None:
        names = ", ".join(username for username, _, _ in PEOPLE)
        self.stdout.write(f"Sign in as any of {names} with the password {DEMO_PASSWORD!r}.")
