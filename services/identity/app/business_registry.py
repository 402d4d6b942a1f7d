"""Who is the legal representative of a tax code: the national business registration system
(Hệ thống thông tin quốc gia về đăng ký doanh nghiệp) answers it.

A citizen who registers a business or organisation only *claims* to represent it. The claim is
checked here; an unconfirmed claim gives no right to act for the body (``Representation.status``
stays ``unconfirmed``) and a later confirmed claim replaces it, so nobody can squat a tax code.
The embedded default is the sandbox adapter, which confirms a claim from a file of known
representatives or, without a file, confirms every claim (``source: sandbox`` in the audit log);
``none`` confirms nothing (links wait for an operator)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class Claim:
    confirmed: bool
    source: str
    reason: str = ""


class BusinessRegistry(Protocol):
    name: str

    async def check(self, *, tax_code: str, representative_number: str) -> Claim: ...


class SandboxBusinessRegistry:
    name = "sandbox"

    def __init__(self, representatives_file: str = ""):
        # {"tax_code": "<10 or 13 digits>", "identity_number": "<the representative's CCCD>"} records.
        self._known: dict[str, set[str]] | None = None
        if representatives_file:
            self._known = {}
            for r in json.loads(Path(representatives_file).read_text(encoding="utf-8")):
                self._known.setdefault(r["tax_code"], set()).add(r["identity_number"])

    async def check(self, *, tax_code: str, representative_number: str) -> Claim:
        if self._known is None:
            return Claim(True, self.name)
        if representative_number in self._known.get(tax_code, set()):
            return Claim(True, self.name)
        return Claim(False, self.name, "not_the_representative")


class NoBusinessRegistry:
    """No registry to ask: every claim stays unconfirmed."""

    name = "none"

    async def check(self, *, tax_code: str, representative_number: str) -> Claim:
        return Claim(False, self.name, "not_checked")


def make_business_registry(kind: str, representatives_file: str = "") -> BusinessRegistry:
    if kind == "sandbox":
        return SandboxBusinessRegistry(representatives_file)
    if kind == "none":
        return NoBusinessRegistry()
    raise ValueError(f"unknown business registry {kind!r}")
