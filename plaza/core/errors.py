"""One error shape for every failure the API can answer with.

Every error body is ``{"code": str, "message": str, "fields": {field: [message, ...]}}``:
``code`` is stable and machine-readable, ``message`` is for people, and ``fields`` names the
offending input fields (empty when the error is not about a field). The DRF exception handler
and Django's own 400/403/404/500 handlers both produce it, so even a request that never reaches
a DRF view (an unknown URL, an oversized body) gets JSON.
"""

import logging
import sys
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.db import OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import is_valid_path
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from plaza.core.exceptions import InvalidInput, NotPermitted

logger = logging.getLogger(__name__)

DATABASE_RETRY_AFTER_SECONDS = 5


def error_body(code: str, message: str, fields: dict[str, list[str]] | None = None) -> dict:
    return {"code": code, "message": message, "fields": fields or {}}


def _flatten(detail: Any) -> list[str]:
    """Turn DRF's nested error details into a flat list of messages."""
    if isinstance(detail, dict):
        return [f"{key}: {message}" for key, value in detail.items() for message in _flatten(value)]
    if isinstance(detail, list):
        return [message for item in detail for message in _flatten(item)]
    return [str(detail)]


def _validation_body(detail: Any) -> dict:
    if isinstance(detail, dict):
        fields = {str(name): _flatten(errors) for name, errors in detail.items()}
        non_field = fields.pop("non_field_errors", [])
        message = non_field[0] if non_field else "Some fields are invalid."
        if non_field and not fields:
            return error_body("invalid", message)
        if non_field:
            fields["non_field_errors"] = non_field
        return error_body("invalid", message, fields)
    messages = _flatten(detail)
    return error_body("invalid", messages[0] if messages else "Invalid input.")


def _counted_refusal(exc: exceptions.APIException, context: dict) -> exceptions.APIException:
    """A request refused for its credentials (none where a token is needed, or a bad token)
    is refused before DRF runs the view's rate limits, so it was never counted: an address
    over its limit could go on sending forged tokens, each costing a lookup. Count it as the
    anonymous request it is, and answer 429 instead once its address is over the limit."""
    view, request = context.get("view"), context.get("request")
    if view is None or request is None:
        return exc
    try:
        view.check_throttles(request)
    except exceptions.Throttled as throttled:
        return throttled
    return exc


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, InvalidInput):
        fields = {exc.field: exc.details} if exc.field else {}
        return Response(error_body(exc.code, exc.message, fields), status=400)
    if isinstance(exc, NotPermitted):
        return Response(error_body(exc.code, exc.message), status=status.HTTP_403_FORBIDDEN)
    if isinstance(exc, OperationalError):
        # The database is unreachable or overloaded: tell the client to come back, rather
        # than answering with a traceback-shaped 500.
        logger.exception("Database unavailable while serving %s", context.get("request"))
        return Response(
            error_body("database_unavailable", "The service is busy. Try again shortly."),
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
        )
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        exc = _counted_refusal(exc, context)
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = _validation_body(exc.detail)
    elif isinstance(exc, exceptions.APIException):
        detail = exc.detail
        code = detail.code if hasattr(detail, "code") else exc.default_code
        response.data = error_body(str(code), " ".join(_flatten(detail)))
    else:  # Http404 and PermissionDenied from Django, already mapped by DRF
        response.data = error_body(
            "not_found" if response.status_code == 404 else "permission_denied",
            " ".join(_flatten(response.data.get("detail", "")))
            if isinstance(response.data, dict)
            else str(response.data),
        )
    return response


def _json(status_code: int, code: str, message: str) -> JsonResponse:
    return JsonResponse(error_body(code, message), status=status_code)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if isinstance(exception, RequestDataTooBig):
        return _json(413, "too_large", "The request body is too large.")
    return _json(400, "bad_request", "The request could not be understood.")


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _json(403, "permission_denied", "You do not have permission to do this.")


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if not request.path.endswith("/"):
        with_slash = f"{request.path}/"
        if is_valid_path(with_slash, getattr(request, "urlconf", None)):
            return _json(404, "not_found", f"Paths end with a slash: use {with_slash}")
    return _json(404, "not_found", "Nothing here. See /api/docs/ for the routes.")


def server_error(request: HttpRequest) -> HttpResponse:
    # Django calls this while handling the exception: outside DRF's views (the admin, the API
    # docs page, middleware) a database outage is the same 503 the API gives, not a 500.
    if isinstance(sys.exc_info()[1], OperationalError):
        response = _json(503, "database_unavailable", "The service is busy. Try again shortly.")
        response["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
        return response
    return _json(500, "server_error", "Something went wrong on our side. It has been logged.")
