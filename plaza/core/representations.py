"""How values appear in every JSON representation Plaza sends (REST answers and live events).

Lists render hundreds of representations per request. DRF's field-by-field machinery costs
several times more than building the dict (profiled on the feed), so the hot serializers build
their dicts directly; their declared fields still describe them in the OpenAPI schema, and
tests/test_representations.py proves both give the same output.
"""

from datetime import UTC, datetime


def iso_datetime(value: datetime) -> str:
    """A datetime as DRF's DateTimeField renders it: ISO 8601 in UTC, with a "Z"."""
    text = value.astimezone(UTC).isoformat()
    return f"{text[:-6]}Z" if text.endswith("+00:00") else text
