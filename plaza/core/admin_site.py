"""The admin site: Django's, with staff sign-in under the same limit as the API's sign-in.

Django's admin login takes any number of password guesses. Here each POST to it (and to the
password change page, which checks the old password) spends the sign-in budget of its client
address (THROTTLE_LOGIN, shared with /api/auth/login/ and every
other password check), and one over the limit answers 429 with Retry-After, whether the
password is right or not.
"""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse, JsonResponse

from plaza.core.errors import error_body
from plaza.core.throttling import LoginRateThrottle


class PlazaAdminSite(admin.AdminSite):
    """Both admin pages that check a password (signing in, and changing one's password, which
    asks for the old one) spend the sign-in budget."""

    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        return _refused(request) or super().login(request, extra_context)

    def password_change(  # type: ignore[override]  # a 429 is no TemplateResponse
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        return _refused(request) or super().password_change(request, extra_context)


def _refused(request: HttpRequest) -> HttpResponse | None:
    """A 429 for a POST over the sign-in budget of its address; None otherwise."""
    if request.method != "POST":
        return None
    throttle = LoginRateThrottle()
    # The throttle reads only the method, the client address and the cache; the view
    # argument is DRF's and goes unused.
    if throttle.allow_request(request, None):  # type: ignore[arg-type]
        return None
    return _too_many_attempts(throttle.wait())


def _too_many_attempts(retry_after: float) -> HttpResponse:
    response = JsonResponse(
        error_body(
            "throttled",
            f"Too many sign-in attempts from this address. Try again in {int(retry_after)} s.",
        ),
        status=429,
    )
    response["Retry-After"] = str(int(retry_after))
    return response
