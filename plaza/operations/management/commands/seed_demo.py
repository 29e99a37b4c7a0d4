"""Load a small demo network so a first look at Plaza is not an empty feed.

Everything goes through the services, so counters and notifications are exactly what real
use would have produced. Running it twice changes nothing.
"""

import random
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from plaza.accounts.models import User
from plaza.graph.services import follow_create
from plaza.posts.services import comment_create, like_create, post_create

DEMO_PASSWORD = "plaza-demo-2026"  # noqa: S105 - documented demo credential

PEOPLE = [
    ("alice", "Alice Martin", "Backend engineer. Coffee, climbing, Postgres."),
    ("bob", "Bob Okafor", "Photographer. I post more than I should."),
    ("carol", "Carol Nguyen", "Reading list curator and amateur baker."),
    ("dave", "Dave Rossi", "Cycling to work, rain or shine."),
    ("erin", "Erin Schmidt", "Open source maintainer, plant enthusiast."),
]

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
    help = "Create demo users (password: plaza-demo-2026) with posts, follows, likes, comments."

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
            for username, display_name, bio in PEOPLE:
                user = User.objects.create_user(
                    username=username,
                    email=f"{username}@example.com",
                    password=DEMO_PASSWORD,
                    display_name=display_name,
                    bio=bio,
                )
                users.append(user)
            self.stdout.write(f"Created {len(users)} users.")
            for follower in users:
                for followee in users:
                    if follower != followee and rng.random() < 0.7:
                        follow_create(follower=follower, followee=followee)
            posts = []
            for index, (title, content) in enumerate(POSTS * 2):
                author = users[index % len(users)]
                posts.append(post_create(author=author, title=title, content=content))
            self.stdout.write(f"Created {len(posts)} posts.")
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
