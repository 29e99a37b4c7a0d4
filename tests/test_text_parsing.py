"""Reading a post's plain text: mentions, hashtags and links, with their positions."""

import pytest

from plaza.tags.parsing import Span, is_tag_name, parse_text, tag_normal_form


def found(text: str) -> list[tuple[str, str, str]]:
    """Each span as (kind, the text it covers, its value): positions proven by slicing."""
    return [(span.kind, text[span.start : span.end], span.value) for span in parse_text(text)]


def test_mentions_tags_and_links_in_order() -> None:
    text = "Hi @grace and @Ada_1! #Café, see https://example.com/a?b=1."
    assert found(text) == [
        ("mention", "@grace", "grace"),
        ("mention", "@Ada_1", "Ada_1"),
        ("hashtag", "#Café", "café"),
        ("link", "https://example.com/a?b=1", "https://example.com/a?b=1"),
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # An address, a sigil glued to a word, a remote account, sigils alone: nothing.
        ("write to ada@example.com", []),
        ("a#b c@d", []),
        ("@ada@other.example", []),
        ("@ # @@ ##", []),
        # A number is not a tag; letters with digits are.
        ("#2026 #web3 #_", [("hashtag", "#web3", "web3")]),
        # Nothing inside a link is a mention or a tag.
        (
            "https://example.com/@ada#top #end",
            [
                ("link", "https://example.com/@ada#top", "https://example.com/@ada#top"),
                ("hashtag", "#end", "end"),
            ],
        ),
        # Brackets a link did not open, and a sentence's last mark, are not part of it.
        (
            "(see https://example.com/wiki/A_(b)) and (https://example.com/c).",
            [
                ("link", "https://example.com/wiki/A_(b)", "https://example.com/wiki/A_(b)"),
                ("link", "https://example.com/c", "https://example.com/c"),
            ],
        ),
        ("http:// and https://localhost", []),
        # Tags in any script, with combining marks, normalised and case-folded.
        (
            "#日本語 #Straße #cafe\u0301",
            [
                ("hashtag", "#日本語", "日本語"),
                ("hashtag", "#Straße", "strasse"),
                ("hashtag", "#cafe\u0301", "café"),
            ],
        ),
        # Punctuation ends a name.
        ("(@ada), #tag!", [("mention", "@ada", "ada"), ("hashtag", "#tag", "tag")]),
    ],
)
def test_what_counts_and_what_does_not(text: str, expected: list[tuple[str, str, str]]) -> None:
    assert found(text) == expected


def test_positions_count_code_points_not_bytes_or_utf16_units() -> None:
    text = "🎉🎉 @ada #ok"
    spans = parse_text(text)
    assert spans == [Span("mention", 3, 7, "ada"), Span("hashtag", 8, 11, "ok")]


def test_tag_names_are_one_in_any_case_and_composition() -> None:
    assert tag_normal_form("CAFÉ") == tag_normal_form("cafe\u0301") == tag_normal_form("Café")
    assert is_tag_name("a" * 100)
    assert not is_tag_name("a" * 101)
    assert not is_tag_name("no spaces")
    assert not is_tag_name("")
