"""factory_boy factories. They build rows directly; tests of behaviour go through the API or
the services, so counters stay meaningful (use the services when a test reads counters)."""

import io
from typing import Any

import factory
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from plaza.accounts.models import AuthToken, User
from plaza.graph.models import Follow, FollowRequest
from plaza.media.models import MediaAttachment
from plaza.media.services import media_upload
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


def image_bytes(
    image_format: str = "PNG", size: tuple[int, int] = (16, 12), **save_options: object
) -> bytes:
    """An image of two colours (so that a blurhash has something to tell) in `image_format`."""
    image = Image.new("RGB", size, (200, 40, 40))
    image.paste((30, 90, 220), (0, 0, max(1, size[0] // 2), size[1]))
    output = io.BytesIO()
    image.save(output, format=image_format, **save_options)
    return output.getvalue()


def image_file(image: bytes | None = None, name: str = "picture.png") -> SimpleUploadedFile:
    """An uploaded file, as a form sends it."""
    return SimpleUploadedFile(name, image or image_bytes(), "image/png")


def upload_for(owner: User, image: bytes | None = None, **options: Any) -> MediaAttachment:
    """An upload of `owner`'s, through the service (processed and stored as the API does)."""
    return media_upload(owner=owner, upload=image_file(image), **options)
