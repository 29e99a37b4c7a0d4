"""Request body parsers."""

from collections.abc import Mapping
from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, refusing bodies nested too deeply to parse.

    Python's decoder raises RecursionError (not ValueError) past about a thousand levels of
    nesting: a 4 kB body of brackets. DRF lets that escape as a 500; it is bad input, so 400.
    """

    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError("JSON parse error - the document is nested too deeply.") from exc
