"""Message templates, loaded from ``templates.toml`` (data beside the code).

>>> t = load_templates()
>>> t.render("payout_ready", "en", {"member_no": "BMS-0001", "rupiah": "Rp 50.000",
...                                  "site": "Bank Sampah Sokaraja"}).text
'Salinmas BMS-0001: your payout of Rp 50.000 is approved; collect it at Bank Sampah Sokaraja.'

Every event names its ``audience`` (:func:`event_audience`), so
:func:`cloud.notifications.enqueue` refuses an unknown event at once, not when sending.
"""

from __future__ import annotations

import functools
import string
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, cast

TEMPLATES_FILE = Path(__file__).with_name("templates.toml")
LANGS = ("id", "en")
Audience = Literal["household", "operators"]


class TemplateError(ValueError):
    """A template is missing, malformed, or needs a value the event did not carry."""


@dataclass(frozen=True, slots=True)
class Rendered:
    title: str
    text: str


@dataclass(frozen=True, slots=True)
class Template:
    event: str
    audience: Audience
    texts: Mapping[str, str]
    titles: Mapping[str, str]

    @property
    def fields(self) -> frozenset[str]:
        """The ``{names}`` the texts use."""
        names: set[str] = set()
        for text in (*self.texts.values(), *self.titles.values()):
            names.update(f for _, f, _, _ in string.Formatter().parse(text) if f)
        return frozenset(names)


class Templates:
    """All events' templates (see the module docs)."""

    def __init__(self, events: Mapping[str, Template], phrases: Mapping[str, str]) -> None:
        self.events = dict(events)
        self.phrases = dict(phrases)

    def get(self, event: str) -> Template:
        try:
            return self.events[event]
        except KeyError:
            raise TemplateError(f"unknown notification event {event!r}") from None

    def render(self, event: str, lang: str, values: Mapping[str, str]) -> Rendered:
        """The event's title and text in ``lang`` (``id`` when ``lang`` is unknown)."""
        tpl = self.get(event)
        lang = lang if lang in LANGS else "id"
        missing = tpl.fields - set(values)
        if missing:
            raise TemplateError(f"{event}: no value for {', '.join(sorted(missing))}")
        return Rendered(
            title=tpl.titles.get(lang, event).format_map(values),
            text=tpl.texts[lang].format_map(values),
        )

    def phrase(self, name: str, lang: str, **values: str) -> str:
        lang = lang if lang in LANGS else "id"
        try:
            return self.phrases[f"{name}_{lang}"].format_map(values)
        except KeyError as exc:
            raise TemplateError(f"no phrase {name}_{lang} (or no value {exc})") from None


def parse_templates(doc: Mapping[str, object]) -> Templates:
    """Check and build :class:`Templates` from a parsed TOML document."""
    events: dict[str, Template] = {}
    phrases: dict[str, str] = {}
    for name, table in doc.items():
        if not isinstance(table, dict):
            raise TemplateError(f"[{name}] must be a table")
        if name == "phrases":
            phrases = {str(k): str(v) for k, v in table.items()}
            continue
        audience = table.get("audience")
        if audience not in ("household", "operators"):
            raise TemplateError(f"[{name}] audience must be 'household' or 'operators'")
        texts = {lang: table.get(lang) for lang in LANGS}
        if not all(isinstance(v, str) and v for v in texts.values()):
            raise TemplateError(f"[{name}] needs a text for each of {', '.join(LANGS)}")
        titles = {lang: str(table[f"title_{lang}"]) for lang in LANGS if f"title_{lang}" in table}
        unknown = set(table) - {"audience", *LANGS, *(f"title_{lang}" for lang in LANGS)}
        if unknown:
            raise TemplateError(f"[{name}] unknown keys: {', '.join(sorted(unknown))}")
        events[name] = Template(name, cast(Audience, audience), cast(dict[str, str], texts), titles)
    return Templates(events, phrases)


@functools.cache
def load_templates(path: Path = TEMPLATES_FILE) -> Templates:
    with path.open("rb") as fh:
        return parse_templates(tomllib.load(fh))


def event_audience(event: str) -> Audience:
    """Who ``event`` is told to; :class:`TemplateError` for an unknown event."""
    return load_templates().get(event).audience
