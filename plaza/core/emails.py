"""Email addresses in one normal form, so that one mailbox is one address.

The normal form of ``local@domain`` is the local part as written, ``@``, and the domain in its
IDNA ASCII form, lower-cased: the domain goes through the UTS #46 mapping (full-width and
upper-case letters, ideographic full stops and ignorable characters map away) and IDNA 2008's
rules, so ``x@éxample.com``, ``x@ÉXAMPLE.com`` and ``x@xn--xample-9ua.com`` are one address,
``x@xn--xample-9ua.com``. A domain those rules refuse (``☃.com``, a bidi override, an IP
literal) is not an address anyone can have here.

Two addresses are the same when their normal forms are equal regardless of case
(`email_key`): mail servers treat local parts without case in practice, and Plaza's accounts
keep one address per account by a unique index on ``lower(email)`` over the stored normal
form (plaza.accounts.models).

Only the domain is rewritten: the local part is kept as its owner typed it, and any case
changes there are the owner's. It must be ASCII, so that the database's ``lower()`` and
Python's case folding agree on it (one rule for what "the same address" means).
"""

import idna

EMAIL_MAX_LENGTH = 254  # RFC 5321's limit on a forward path, less the angle brackets

INVALID_DOMAIN_MESSAGE = (
    "The domain of this email address is not a valid domain name (IDNA): check what follows the @."
)
NON_ASCII_LOCAL_MESSAGE = (
    "The part of this email address before the @ must be ASCII letters, digits and symbols."
)
TOO_LONG_MESSAGE = (
    f"Ensure this email address has no more than {EMAIL_MAX_LENGTH} characters once its "
    "domain is written in ASCII (xn--...)."
)


class InvalidEmailAddress(ValueError):
    """An address with no normal form. `code` is the error code an answer should carry."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def email_normal_form(address: str) -> str:
    """The normal form of an email address (see the module's docstring).

    Text without an ``@`` is returned stripped and otherwise as is: it is no address, and
    telling so is the email validators' job. Raises `InvalidEmailAddress` with code
    ``invalid_email_domain`` when the domain is not valid IDNA, and ``invalid`` when the
    normal form is longer than an address may be.
    """
    address = address.strip()
    local, at, domain = address.rpartition("@")
    if not at:
        return address
    if not local.isascii():
        # Django's validator takes some non-ASCII letters in the local part (the Kelvin sign
        # K, long s, dotless i match [a-z] without case), and the database's lower() would
        # not fold them as Python does: "Kate" with a Kelvin sign would be a second account
        # beside "kate". Internationalised local parts (SMTPUTF8) are refused instead.
        raise InvalidEmailAddress(NON_ASCII_LOCAL_MESSAGE, code="invalid_email_local_part")
    try:
        ascii_domain = idna.encode(domain, uts46=True, std3_rules=True).decode("ascii")
    except ValueError as exc:  # idna.IDNAError and the UnicodeErrors it wraps
        raise InvalidEmailAddress(INVALID_DOMAIN_MESSAGE, code="invalid_email_domain") from exc
    normal = f"{local}@{ascii_domain.lower()}"
    if len(normal) > EMAIL_MAX_LENGTH:
        raise InvalidEmailAddress(TOO_LONG_MESSAGE, code="invalid")
    return normal


def email_key(address: str) -> str:
    """What two spellings of one address have in common: the normal form without case. An
    address with no normal form keys as itself without case (it matches no stored address,
    which are all in normal form, but still has a key, for rate limits)."""
    try:
        return email_normal_form(address).casefold()
    except InvalidEmailAddress:
        return address.strip().casefold()
