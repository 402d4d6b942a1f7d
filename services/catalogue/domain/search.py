"""Citizen search over the published catalogue, in memory: the same answers on SQLite and
PostgreSQL (no SQL collation or full-text dialect involved) and fast enough for every
keystroke.

Words are folded (no accents), then each query word matches a catalogue word exactly, as a
prefix (two letters or more), or with one typo (three letters or more; two typos from eight;
never in the first letter, never in a number). Every query word must match. Results come in
tiers, then shorter names first: 0 the whole query appears in the name, 1 every word in the
name (exact or prefix), 2 every word exact or prefix somewhere (sector, result, description,
code); only when none of these exist, the typo tiers: 3 every word in the name, 4 the rest.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from services.catalogue.domain.text import fold, terms
from services.platform.errors import InvalidInput

MAX_QUERY = 200
MAX_TERMS = 12
_CACHE_LIMIT = 4096


@dataclass(frozen=True)
class Entry:
    code: str
    version: int
    name: str
    sector: str
    level: str
    agency_code: str
    online_mode: str
    text: str = ""  # sector, result, description, code
    agency_name: str = ""


@dataclass(frozen=True)
class Hit:
    entry: Entry
    tier: int

    @property
    def score(self) -> float:
        return float(5 - self.tier)


@dataclass
class _TermMatch:
    name_strong: set[int] = field(default_factory=set)  # exact or prefix, in the name
    any_strong: set[int] = field(default_factory=set)  # exact or prefix, anywhere
    name_any: set[int] = field(default_factory=set)  # typo allowed, in the name
    any_any: set[int] = field(default_factory=set)  # typo allowed, anywhere


def max_typos(term: str) -> int:
    if any(ch.isdigit() for ch in term):
        return 0
    if len(term) >= 8:
        return 2
    return 1 if len(term) >= 3 else 0


class SearchIndex:
    """Immutable once built; a new catalogue state builds a new index and swaps it in."""

    def __init__(self, entries: list[Entry], *, commune_codes: frozenset[str] = frozenset()):
        ordered = sorted(entries, key=lambda e: (len(e.name), e.name, e.code))
        self.entries = ordered
        self._names = [fold(e.name) for e in ordered]
        self.commune_codes = commune_codes
        name_post: dict[str, set[int]] = {}
        text_post: dict[str, set[int]] = {}
        self._by_level: dict[str, set[int]] = {}
        self._by_agency: dict[str, set[int]] = {}
        self._by_sector: dict[str, set[int]] = {}
        self._by_online: dict[str, set[int]] = {}
        self._open_commune: set[int] = set()
        for i, (e, name) in enumerate(zip(ordered, self._names)):
            for token in name.split(" "):
                name_post.setdefault(token, set()).add(i)
            for token in fold(e.text).split(" "):
                if token:
                    text_post.setdefault(token, set()).add(i)
            self._by_level.setdefault(e.level, set()).add(i)
            self._by_agency.setdefault(e.agency_code, set()).add(i)
            self._by_sector.setdefault(fold(e.sector), set()).add(i)
            self._by_online.setdefault(e.online_mode, set()).add(i)
            if e.level == "commune" and not e.agency_code:
                self._open_commune.add(i)
        self._name_post = name_post
        self._text_post = text_post
        self._vocab = sorted(set(name_post) | set(text_post))
        self._cache: dict[str, _TermMatch] = {}
        self._all = list(range(len(ordered)))

    def __len__(self) -> int:
        return len(self.entries)

    def _postings(self, token: str) -> tuple[set[int], set[int]]:
        empty: set[int] = set()
        return self._name_post.get(token, empty), self._text_post.get(token, empty)

    def _match(self, term: str) -> _TermMatch:
        cached = self._cache.get(term)
        if cached is not None:
            return cached
        strong = [term] if term in self._name_post or term in self._text_post else []
        if len(term) >= 2:
            start = bisect.bisect_left(self._vocab, term)
            for token in self._vocab[start:]:
                if not token.startswith(term):
                    break
                if token != term:
                    strong.append(token)
        typos = max_typos(term)
        weak: list[str] = []
        if typos:
            found = process.extract(term, self._vocab, scorer=Levenshtein.distance, score_cutoff=typos, limit=None)
            weak = [token for token, _, _ in found if token[0] == term[0]]
        m = _TermMatch()
        for token in strong:
            in_name, in_text = self._postings(token)
            m.name_strong |= in_name
            m.any_strong |= in_name
            m.any_strong |= in_text
        m.name_any |= m.name_strong
        m.any_any |= m.any_strong
        for token in weak:
            in_name, in_text = self._postings(token)
            m.name_any |= in_name
            m.any_any |= in_name
            m.any_any |= in_text
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[term] = m
        return m

    def _allowed(self, *, agency_code: str, sector: str, level: str, online_mode: str) -> set[int] | None:
        sets: list[set[int]] = []
        if agency_code:
            chosen = set(self._by_agency.get(agency_code, ()))
            if agency_code in self.commune_codes:
                chosen |= self._open_commune  # filed at whichever commune the applicant chooses
            sets.append(chosen)
        if sector:
            sets.append(self._by_sector.get(fold(sector), set()))
        if level:
            sets.append(self._by_level.get(level, set()))
        if online_mode:
            sets.append(self._by_online.get(online_mode, set()))
        if not sets:
            return None
        return set.intersection(*sets)

    def search(self, query: str, *, agency_code: str = "", sector: str = "", level: str = "",
               online_mode: str = "", offset: int = 0, limit: int = 20) -> tuple[list[Hit], int]:
        if len(query) > MAX_QUERY:
            raise InvalidInput(f"Từ khóa tìm kiếm quá dài (tối đa {MAX_QUERY} ký tự).", fields={"q": "too long"})
        words = terms(query)[:MAX_TERMS]
        allowed = self._allowed(agency_code=agency_code, sector=sector, level=level, online_mode=online_mode)
        if not words:
            if query.strip():
                return [], 0  # only punctuation: nothing to look for
            ids = self._all if allowed is None else sorted(allowed)
            return [Hit(self.entries[i], 4) for i in ids[offset:offset + limit]], len(ids)
        matches = [self._match(w) for w in words]
        every = set.intersection(*(m.any_any for m in matches))
        if allowed is not None:
            every &= allowed
        if not every:
            return [], 0
        name_strong = set.intersection(*(m.name_strong for m in matches)) & every
        any_strong = set.intersection(*(m.any_strong for m in matches)) & every
        name_any = set.intersection(*(m.name_any for m in matches)) & every
        phrase = " ".join(words)
        names = self._names
        tier0 = {i for i in name_strong if phrase in names[i]}
        if any_strong:
            tiers = [tier0, name_strong - tier0, any_strong - name_strong, set(), set()]
            total = len(any_strong)
        else:
            tiers = [set(), set(), set(), name_any, every - name_any]
            total = len(every)
        hits: list[Hit] = []
        skip = offset
        for tier, ids in enumerate(tiers):
            if len(hits) >= limit:
                break
            if skip >= len(ids):
                skip -= len(ids)
                continue
            for i in sorted(ids)[skip:skip + limit - len(hits)]:
                hits.append(Hit(self.entries[i], tier))
            skip = 0
        return hits, total
