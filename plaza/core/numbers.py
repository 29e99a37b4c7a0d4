"""The one parser for whole numbers a client writes in a path, a query string or a header.

`int()` is the wrong tool for input: it takes " 1", "+1", "1_000" and "١٢" (Arabic-Indic
digits), and past 4,300 digits it raises ValueError from the interpreter's guard against
quadratic conversions, which surfaced as a 500. Here a number is ASCII digits only, and its
length is checked against the bound before any conversion.
"""

from plaza.core.ids import MAX_ID


def parse_natural(text: str, maximum: int, *, clamp: bool = False) -> int | None:
    """The whole number 0..maximum that `text` spells in ASCII digits, else None; with
    `clamp`, a larger number of digits is `maximum` instead of None."""
    if not text or not (text.isascii() and text.isdigit()):
        return None
    significant = text.lstrip("0") or "0"  # leading zeros say nothing about size
    if len(significant) > len(str(maximum)) or int(significant) > maximum:
        return maximum if clamp else None
    return int(significant)


def parse_id(text: str) -> int | None:
    """A database id (a snowflake: 0..2**63-1) written by a client, else None."""
    return parse_natural(text, MAX_ID)
