"""What a post's plain text refers to: @mentions, #hashtags and links, with where each
stands in the text. Pure functions: resolving a mention to an account is the services' job.

Positions count Unicode code points (Python's string indexes; in JavaScript,
`Array.from(text)` indexes the same way), `start` inclusive and `end` exclusive.
"""

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

TAG_MAX_LENGTH = 100
USERNAME_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")

# A link runs from its scheme to the first space; punctuation that ends a sentence around it
# is not part of it ("see https://example.com/a.").
_LINK = re.compile(r"https?://[^\s<>\"]+", re.IGNORECASE)
_LINK_TRAILING = ".,:;!?'\"*"
_CLOSERS = {")": "(", "]": "[", "}": "{"}

SpanKind = Literal["mention", "hashtag", "link"]


@dataclass(frozen=True)
class Span:
    kind: SpanKind
    start: int
    end: int
    value: str  # the username as written, the tag's normal form, or the URL


def tag_normal_form(name: str) -> str:
    """How a tag is stored and looked up: compatibility-composed (NFKC) and case-folded, so
    that #Café, #CAFÉ and #café (composed or not) are one tag."""
    return unicodedata.normalize("NFKC", name).casefold()


def is_tag_name(name: str) -> bool:
    """Letters, marks, digits and underscores, at least one letter, at most TAG_MAX_LENGTH:
    #2026 is a number, not a tag."""
    return (
        0 < len(name) <= TAG_MAX_LENGTH
        and all(_is_tag_character(character) for character in name)
        and any(unicodedata.category(character).startswith("L") for character in name)
    )


def _is_tag_character(character: str) -> bool:
    return character == "_" or unicodedata.category(character)[0] in "LMN"


def _word_before(text: str, index: int) -> bool:
    """Whether the character before `index` glues a sigil to a word (e-mail addresses,
    "a#b"), so that it starts no mention or tag."""
    if index == 0:
        return False
    before = text[index - 1]
    return _is_tag_character(before) or before in "@#&/"


def _links(text: str) -> list[Span]:
    spans = []
    for match in _LINK.finditer(text):
        url = match.group()
        while url and (url[-1] in _LINK_TRAILING or _unbalanced_closer(url)):
            url = url[:-1]
        if len(url) > len("https://") and "." in url.split("//", 1)[1]:
            spans.append(Span("link", match.start(), match.start() + len(url), url))
    return spans


def _unbalanced_closer(url: str) -> bool:
    """A closing bracket the link did not open: "(see https://example.com/a)"."""
    opener = _CLOSERS.get(url[-1])
    return opener is not None and url.count(opener) < url.count(url[-1])


def _run(text: str, start: int, accepts: "frozenset[str] | None") -> int:
    """Where the run of name characters from `start` ends: username characters, or (with
    `accepts` None) tag characters."""
    end = start
    while end < len(text) and (
        text[end] in accepts if accepts is not None else _is_tag_character(text[end])
    ):
        end += 1
    return end


def parse_text(text: str) -> list[Span]:
    """The mentions, hashtags and links in `text`, in order. Nothing inside a link counts as
    a mention or a tag (https://example.com/#top, https://example.com/@ada)."""
    links = _links(text)
    spans: list[Span] = list(links)
    link_at = iter(links)
    next_link = next(link_at, None)
    index = 0
    while index < len(text):
        if next_link is not None and index >= next_link.start:
            index = next_link.end
            next_link = next(link_at, None)
            continue
        sigil = text[index]
        if sigil in "@#" and not _word_before(text, index):
            stop = next_link.start if next_link is not None else len(text)
            accepts = USERNAME_CHARACTERS if sigil == "@" else None
            end = min(_run(text, index + 1, accepts), stop)
            name = text[index + 1 : end]
            # "@ada@elsewhere.example" names an account on another server: not a local one.
            if sigil == "@" and name and not text.startswith("@", end):
                spans.append(Span("mention", index, end, name))
            elif sigil == "#" and is_tag_name(name):
                spans.append(Span("hashtag", index, end, tag_normal_form(name)))
            index = max(end, index + 1)
            continue
        index += 1
    return sorted(spans, key=lambda span: span.start)


def entities_of(spans: list[Span], accounts: Mapping[str, tuple[str, int]]) -> list[dict[str, Any]]:
    """The entities clients render, from `spans` and the local `accounts` their mentions
    name (lower-case username: (username, id)). A mention of no account here is plain text."""
    entities: list[dict[str, Any]] = []
    for span in spans:
        where = {"start": span.start, "end": span.end}
        if span.kind == "mention":
            account = accounts.get(span.value.lower())
            if account is not None:
                username, account_id = account
                entities.append(
                    {"type": "mention", **where, "username": username, "id": str(account_id)}
                )
        elif span.kind == "hashtag":
            entities.append({"type": "hashtag", **where, "name": span.value})
        else:
            entities.append({"type": "link", **where, "url": span.value})
    return entities
