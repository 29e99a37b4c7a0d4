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


def iso_datetime(value: datetime) -> str:
    """A datetime as DRF's DateTimeField renders it: ISO 8601 in UTC, with a "Z"."""
    text = value.astimezone(UTC).isoformat()
    return f"{text[:-6]}Z" if text.endswith("+00:00") else text
