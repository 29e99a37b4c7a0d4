"""Errors the domain core raises. Faces translate them (the REST face to 400 JSON)."""


class InvalidInput(Exception):
    """A request the rules refuse: following yourself, a taken username, and the like."""

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        code: str = "invalid",
        details: list[str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code
        # Every message for the field, when there are several (password validators).
        self.details = details or [message]


class NotPermitted(Exception):
    """A request the rules forbid for this account, whatever its input: following or
    messaging someone who blocked you. Faces translate it to 403 with its `code`."""

    def __init__(self, message: str, *, code: str = "permission_denied") -> None:
        super().__init__(message)
        self.message = message
        self.code = code
