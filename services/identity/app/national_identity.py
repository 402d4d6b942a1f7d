"""Level-2 verification against the national identity source (Cơ sở dữ liệu quốc gia về dân cư).

Production federates sign-in to VNeID through Keycloak (see deploy/keycloak); the embedded
default uses the sandbox adapter here, which confirms a record from a file of known people or,
without a file, any record whose number is consistent with the date of birth. It never claims
to be the national source: the audit entry says ``source: sandbox``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Protocol

from services.identity.domain.identity_numbers import cccd_problem
from services.identity.domain.validation import tidy


@dataclass(frozen=True)
class Match:
    confirmed: bool
    source: str
    reason: str = ""


class NationalIdentitySource(Protocol):
    name: str

    async def check(self, *, identity_number: str, full_name: str, date_of_birth: date) -> Match: ...


class SandboxNationalIdentity:
    name = "sandbox"

    def __init__(self, people_file: str = ""):
        self._people: dict[str, tuple[str, str]] | None = None
        if people_file:
            records = json.loads(Path(people_file).read_text(encoding="utf-8"))
            self._people = {r["identity_number"]: (tidy(r["full_name"]).casefold(), r["date_of_birth"])
                            for r in records}

    async def check(self, *, identity_number: str, full_name: str, date_of_birth: date) -> Match:
        if self._people is not None:
            known = self._people.get(identity_number)
            if known is None:
                return Match(False, self.name, "not_found")
            if known != (tidy(full_name).casefold(), date_of_birth.isoformat()):
                return Match(False, self.name, "mismatch")
            return Match(True, self.name)
        if cccd_problem(identity_number, date_of_birth):
            return Match(False, self.name, "mismatch")
        return Match(True, self.name)


def make_national_source(kind: str, people_file: str = "") -> NationalIdentitySource:
    if kind == "sandbox":
        return SandboxNationalIdentity(people_file)
    raise ValueError(f"unknown national identity source {kind!r}")
