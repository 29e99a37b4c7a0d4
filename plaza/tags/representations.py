"""Tags as JSON: the REST answers of the tag page, the trends and the followed tags alike."""

from typing import Any

from plaza.accounts.models import User
from plaza.tags.models import Tag
from plaza.tags.parsing import tag_normal_form
from plaza.tags.selectors import TagDay, followed_tag_ids, history_days, tag_histories


def tag_data(name: str, history: list[TagDay], following: bool | None) -> dict[str, Any]:
    return {
        "name": name,
        "history": [
            {"day": day.day.isoformat(), "uses": day.uses, "accounts": day.accounts}
            for day in history
        ],
        "following": following,
    }


def tags_data(tags: list[Tag], *, viewer: User | None) -> list[dict[str, Any]]:
    """A list of tags with their histories and whether the viewer follows each: two
    queries, whatever its length."""
    histories = tag_histories(tags)
    followed = followed_tag_ids(viewer, tags)
    return [
        tag_data(tag.name, histories[tag.pk], None if followed is None else tag.pk in followed)
        for tag in tags
    ]


def tag_page_data(name: str, tag: Tag | None, *, viewer: User | None) -> dict[str, Any]:
    """The tag `name` names, as its page shows it; `tag` None (nobody has used or followed
    it yet) renders with zeros, not followed."""
    if tag is not None:
        return tags_data([tag], viewer=viewer)[0]
    history = [TagDay(day, 0, 0) for day in history_days()]
    return tag_data(tag_normal_form(name), history, None if viewer is None else False)
