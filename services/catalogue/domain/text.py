"""Vietnamese text folded for search: lower case, no diacritics, đ as d.

"Đăng ký kết hôn" and "dang ky ket hon" fold to the same string, so a citizen finds a
procedure whether or not their keyboard types the accents.
"""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"\s+")
_PUNCT = re.compile(r"[^\w\s.]", re.UNICODE)


def fold(text: str) -> str:
    text = text.replace("đ", "d").replace("Đ", "d").lower()
    decomposed = unicodedata.normalize("NFD", text)
    stripped = "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    stripped = _PUNCT.sub(" ", stripped)
    return _SPACES.sub(" ", stripped).strip()


def terms(query: str) -> list[str]:
    return [t for t in fold(query).split(" ") if t]
