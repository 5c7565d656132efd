"""The screens' words in zh-CN (the default) and English, from one table per screen.

`vocabulary` holds every name the server sends (states, tiers, triggers, event types, error
codes, alert kinds): the console, the tablet and the big screen all translate through it;
`link` the prefecture link's names. Each other module holds the words of one screen.
`GET /ui/i18n/{language}.json` serves the merged table; tests check that both languages have
the same keys and that every state, trigger, event type and error code has its words.
"""

from __future__ import annotations

from web.i18n import console, coordination, departments, link, screen, tablet, vocabulary

LANGUAGES = ("zh-CN", "en")
_PARTS = (
    vocabulary.STRINGS,
    departments.STRINGS,
    link.STRINGS,
    coordination.STRINGS,
    console.STRINGS,
    tablet.STRINGS,
    screen.STRINGS,
)


def table(language: str) -> dict[str, str]:
    """Every key of every part, in `language`."""
    merged: dict[str, str] = {}
    for part in _PARTS:
        merged.update(part[language])
    return merged


__all__ = ["LANGUAGES", "table"]
