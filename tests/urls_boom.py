"""A test urlconf: Plaza's own routes and error handlers, plus views that fail on purpose.

Used with ``@pytest.mark.urls("tests.urls_boom")`` by tests/test_settings.py to check what a
client sees when a view raises (with DEBUG off): Plaza's JSON 500, never a traceback.
"""

from django.db import OperationalError
from django.http import HttpRequest, HttpResponse
from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

import config.urls

# Something a traceback would show; the client must never see it.
SECRET_DETAIL = "db-password-hunter2-in-a-traceback"


class BoomAPIView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list[type] = []

    def get(self, request: Request) -> Response:
        raise RuntimeError(SECRET_DETAIL)


class DatabaseDownAPIView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list[type] = []

    def get(self, request: Request) -> Response:
        raise OperationalError(f"could not connect to server: {SECRET_DETAIL}")


def boom_django_view(request: HttpRequest) -> HttpResponse:
    raise ZeroDivisionError(SECRET_DETAIL)


def database_down_django_view(request: HttpRequest) -> HttpResponse:
    raise OperationalError(f"could not connect to server: {SECRET_DETAIL}")


urlpatterns = [
    path("boom/drf/", BoomAPIView.as_view()),
    path("boom/database/", DatabaseDownAPIView.as_view()),
    path("boom/django/", boom_django_view),
    path("boom/django-database/", database_down_django_view),
    *config.urls.urlpatterns,
]

# The handlers Django uses are the root urlconf's: use exactly Plaza's.
handler400 = config.urls.handler400
handler403 = config.urls.handler403
handler404 = config.urls.handler404
handler500 = config.urls.handler500
