"""The dossier log (nhật ký hồ sơ) is hash-chained: each entry carries the hash of the
one before, so a changed or removed entry breaks every hash after it."""

from __future__ import annotations

import hashlib
import json

GENESIS = "0" * 64


def entry_hash(prev_hash: str, entry: dict) -> str:
    canonical = json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


def first_broken(entries: list[tuple[dict, str, str]]) -> int | None:
    """Index of the first entry whose (content, prev_hash, hash) does not check, or None."""
    prev = GENESIS
    for i, (content, prev_hash, digest) in enumerate(entries):
        if prev_hash != prev or entry_hash(prev_hash, content) != digest:
            return i
        prev = digest
    return None
