from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest

from plaza.accounts.models import User


class UsernameOrEmailBackend(ModelBackend):
    """Sign in with a username or an email address, both matched regardless of case."""

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        if not username or password is None:
            return None
        user = User.objects.with_username_or_email(username).first()
        if user is None:
            # Hash anyway, so a wrong username costs as long as a wrong password and response
            # times do not reveal which accounts exist.
            User().set_password(password)
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None
