"""How values appear in every JSON representation Plaza sends (REST answers and live events).

Each domain package renders its public objects once, as plain dicts, in its representations
module (plaza.posts.representations, plaza.notifications.representations, ...), for every face.
Lists render hundreds of them per request, and DRF's field-by-field machinery costs several
times more than building the dict (profiled on the feed). The REST face's serializers declare
the fields, which describe them in the OpenAPI schema, and delegate to those functions;
tests/test_shapes.py validates real answers and live events against the schema, and
tests/test_representations.py holds them to what DRF would render from the declarations.
"""

from datetime import UTC, datetime
from urllib.parse import urljoin

from django.conf import settings
from django.db.models.fields.files import FieldFile
from django.http import HttpRequest


def iso_datetime(value: datetime) -> str:
    """A datetime as DRF's DateTimeField renders it: ISO 8601 in UTC, with a "Z"."""
    text = value.astimezone(UTC).isoformat()
    return f"{text[:-6]}Z" if text.endswith("+00:00") else text


def file_url(file: FieldFile, request: HttpRequest | None) -> str | None:
    """A stored file's URL, absolute as DRF renders file fields: from the request's host in
    a REST answer, from PUBLIC_URL in a live event, which has no request (a storage that
    gives absolute URLs, like S3, keeps its own). None for an empty field."""
    if not file:
        return None
    url = file.url
    return request.build_absolute_uri(url) if request else urljoin(settings.PUBLIC_URL, url)
