"""The admin site: Django's, with staff sign-in under the same limit as the API's sign-in.

Django's admin login takes any number of password guesses. Here each POST to it spends the
sign-in budget of its client address (THROTTLE_LOGIN, shared with /api/auth/login/ and every
other password check), and one over the limit answers 429 with Retry-After, whether the
password is right or not.
"""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse, JsonResponse

from plaza.core.errors import error_body
from plaza.core.throttling import LoginRateThrottle


class PlazaAdminSite(admin.AdminSite):
    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        if request.method == "POST":
            throttle = LoginRateThrottle()
            # The throttle reads only the method, the client address and the cache; the view
            # argument is DRF's and goes unused.
            if not throttle.allow_request(request, None):  # type: ignore[arg-type]
                return _too_many_attempts(throttle.wait())
        return super().login(request, extra_context)


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
