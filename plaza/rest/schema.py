"""OpenAPI generation details (drf-spectacular): Plaza's token scheme, and the error answers
that every operation can give, documented once here rather than on each view."""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema

from plaza.rest.common import error_responses
from plaza.rest.permissions import VerifiedEmailToCreate


class TokenAuthenticationScheme(OpenApiAuthenticationExtension):
    """An HTTP bearer scheme: Swagger UI asks for the token alone and sends
    `Authorization: Bearer <token>` itself. The session cookie (the admin's, the browsable
    API's) is left out of the schema (SPECTACULAR_SETTINGS' AUTHENTICATION_WHITELIST): it
    works, with CSRF checks, for a signed-in browser, but is no way for a client app."""

    target_class = "plaza.accounts.authentication.TokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A token from /api/auth/register/ or /api/auth/login/, sent as "
            "`Authorization: Bearer <token>` (`Token <token>` works too).",
        }


class PlazaAutoSchema(AutoSchema):
    """Adds the error answers any operation of its kind can give, so the schema lists every
    status a client may see: 401 wherever a token is read (a bad one is refused even on
    public routes), 400/413/415 wherever a body is parsed, 403 wherever creating needs a
    confirmed email (REQUIRE_VERIFIED_EMAIL), 429 wherever requests are rate limited, 503
    everywhere (database down)."""

    def _standard_errors(self) -> list[int]:
        codes = [503]
        if self.view.get_authenticators():
            codes.append(401)
        if self.view.throttle_classes:
            codes.append(429)
        if self.method == "POST" and any(
            isinstance(permission, VerifiedEmailToCreate)
            for permission in self.view.get_permissions()
        ):
            codes.append(403)
        if self._takes_body():
            codes.extend([400, 413, 415])
        return codes

    def _takes_body(self) -> bool:
        # drf-spectacular documents bodies for PUT, PATCH and POST only. A view whose DELETE
        # reads one (DELETE /api/me/ takes the password) says so with `delete_takes_body`;
        # asking the others for a serializer would make drf-spectacular guess, and complain.
        if self.method == "DELETE":
            return bool(getattr(self.view, "delete_takes_body", False))
        return self.method in ("POST", "PUT", "PATCH") and self.get_request_serializer() is not None

    def _get_request_body(self, direction: Any = "request") -> Any:
        if self.method != "DELETE" or not self._takes_body():
            return super()._get_request_body(direction)
        self.method = "POST"
        try:
            return super()._get_request_body(direction)
        finally:
            self.method = "DELETE"

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for code, response in error_responses(*self._standard_errors()).items():
            if str(code) not in responses:
                responses[str(code)] = self._get_response_for_code(
                    response, str(code), direction=direction
                )
        return responses
