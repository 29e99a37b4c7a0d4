"""factory_boy factories. They build rows directly; tests of behaviour go through the API or
the services, so counters stay meaningful (use the services when a test reads counters)."""

import factory

from plaza.accounts.models import AuthToken, User
from plaza.graph.models import Follow, FollowRequest
from plaza.posts.models import Comment, Like, Post

TEST_PASSWORD = "plaza-test-password-1"


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    display_name = factory.LazyAttribute(lambda user: user.username.title())
    password = factory.django.Password(TEST_PASSWORD)


class PostFactory(factory.django.DjangoModelFactory[Post]):
    class Meta:
        model = Post

    author = factory.SubFactory(UserFactory)
    title = factory.Sequence(lambda n: f"Post number {n}")
    content = factory.Faker("paragraph")


class CommentFactory(factory.django.DjangoModelFactory[Comment]):
    class Meta:
        model = Comment

    post = factory.SubFactory(PostFactory)
    author = factory.SubFactory(UserFactory)
    content = factory.Faker("sentence")


class LikeFactory(factory.django.DjangoModelFactory[Like]):
    class Meta:
        model = Like

    post = factory.SubFactory(PostFactory)
    user = factory.SubFactory(UserFactory)


class FollowFactory(factory.django.DjangoModelFactory[Follow]):
    class Meta:
        model = Follow

    follower = factory.SubFactory(UserFactory)
    followee = factory.SubFactory(UserFactory)


class FollowRequestFactory(factory.django.DjangoModelFactory[FollowRequest]):
    """A request waiting for its target's answer, made as a row: the API makes one only
    while the target is private (plaza.graph.services.follow_create)."""

    class Meta:
        model = FollowRequest

    requester = factory.SubFactory(UserFactory)
    target = factory.SubFactory(UserFactory, is_private=True)


def token_for(user: User) -> str:
    _token, raw = AuthToken.generate(user)
    return raw


# A 1x1 transparent GIF: the smallest valid image for an ImageField.
GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00"
    b"\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
