"""Versioned Jinja2 templates, one file per event kind, locale and version:
``templates/<locale>/<event kind>.v<N>.j2``. A file holds one block per channel
(``title`` is the inbox title and the email subject; ``inbox``, ``email``, ``sms`` the
bodies). The newest version renders new notices; older files stay, so the reference a
notice stores (``vi/dossier.extended@v1#email``) always names the text that produced it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateNotFound

VIETNAM = timezone(timedelta(hours=7))
TEMPLATE_DIR = Path(__file__).resolve().parents[1] / "templates"
_FILE = re.compile(r"^(?P<kind>[a-z_.]+)\.v(?P<version>\d+)\.j2$")
CHANNEL_BLOCKS = {"inbox": ("title", "inbox"), "email": ("title", "email"), "sms": (None, "sms")}


class UnknownTemplate(LookupError):
    pass


@dataclass(frozen=True)
class Rendered:
    title: str
    body: str
    ref: str  # locale/kind@vN#channel


def _date(value: datetime | None) -> str:
    return value.astimezone(VIETNAM).strftime("%d/%m/%Y") if value else ""


def _datetime(value: datetime | None) -> str:
    return value.astimezone(VIETNAM).strftime("%H:%M %d/%m/%Y") if value else ""


def fold_to_ascii(text: str) -> str:
    """Brand-name SMS are cheapest and safest without diacritics (GSM 7-bit)."""
    text = text.replace("đ", "d").replace("Đ", "D")
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


class TemplateRegistry:
    def __init__(self, root: Path = TEMPLATE_DIR):
        self._env = Environment(loader=FileSystemLoader(str(root)), undefined=StrictUndefined,
                                autoescape=False, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False)
        self._env.filters["date"] = _date
        self._env.filters["datetime"] = _datetime
        self.latest: dict[tuple[str, str], int] = {}
        for path in root.glob("*/*.j2"):
            match = _FILE.match(path.name)
            if match:
                key = (path.parent.name, match["kind"])
                self.latest[key] = max(self.latest.get(key, 0), int(match["version"]))

    def kinds(self, locale: str = "vi") -> list[str]:
        return sorted(kind for loc, kind in self.latest if loc == locale)

    def render(self, kind: str, channel: str, locale: str, context: dict, *, version: int | None = None) -> Rendered:
        if channel not in CHANNEL_BLOCKS:
            raise UnknownTemplate(f"channel {channel}")
        if (locale, kind) not in self.latest:
            locale = "vi"
        latest = self.latest.get((locale, kind))
        if latest is None:
            raise UnknownTemplate(kind)
        version = version or latest
        try:
            template = self._env.get_template(f"{locale}/{kind}.v{version}.j2")
        except TemplateNotFound as exc:
            raise UnknownTemplate(f"{kind} v{version}") from exc
        ctx = template.new_context(dict(context))
        title_block, body_block = CHANNEL_BLOCKS[channel]
        title = "".join(template.blocks[title_block](ctx)).strip() if title_block else ""
        body = "".join(template.blocks[body_block](template.new_context(dict(context)))).strip()
        if channel == "sms":
            body = fold_to_ascii(body)
        return Rendered(title=title, body=body, ref=f"{locale}/{kind}@v{version}#{channel}")
