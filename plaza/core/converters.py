from plaza.core.numbers import parse_id


class SnowflakeConverter:
    """Path segment holding a database id: digits that fit a signed 64-bit integer.

    Anything else (letters, negative numbers, values past 2**63-1) does not match the route,
    so the client gets a 404 instead of the database raising an overflow error.
    """

    regex = "[0-9]{1,19}"

    def to_python(self, value: str) -> int:
        number = parse_id(value)
        if number is None:
            raise ValueError("id out of range")
        return number

    def to_url(self, value: int | str) -> str:
        return str(value)


class UsernameConverter:
    """Path segment holding a username; anything that cannot be one is a 404 at routing."""

    regex = "[A-Za-z0-9_]{1,30}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value
