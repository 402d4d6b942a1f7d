"""Vietnamese text folded for search: lower case, no diacritics, đ as d.

"Đăng ký kết hôn" and "dang ky ket hon" fold to the same string, so a citizen finds a
procedure whether or not their keyboard types the accents. Punctuation (underscore
included) separates words: nothing in a query acts as a wildcard.
"""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"\s+")
_PUNCT = re.compile(r"[^\w\s.]|_", re.UNICODE)
_LONE_DOTS = re.compile(r"(?<!\w)\.|\.(?!\w)")


def fold(text: str) -> str:
    text = text.replace("đ", "d").replace("Đ", "d").lower()
    decomposed = unicodedata.normalize("NFD", text)
    stripped = "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    stripped = _PUNCT.sub(" ", stripped)
    stripped = _LONE_DOTS.sub(" ", stripped)
    return _SPACES.sub(" ", stripped).strip()


def terms(query: str) -> list[str]:
    return [t for t in fold(query).split(" ") if t]
