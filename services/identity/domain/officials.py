"""Who may create officials and give them roles.

A city admin manages officials of any agency and may grant every role; an agency admin manages
only officials of their own agency and may not grant city_admin or operator (city-wide powers)."""

from __future__ import annotations

from services.identity.domain.validation import OFFICIAL_ROLES

CITY_WIDE_ROLES = frozenset({"city_admin", "operator"})


def may_manage(*, admin_roles: tuple[str, ...], admin_agency: str, agency_code: str,
               roles: list[str] | tuple[str, ...]) -> bool:
    if "city_admin" in admin_roles:
        return all(r in OFFICIAL_ROLES for r in roles)
    if "agency_admin" in admin_roles:
        return agency_code == admin_agency and not (set(roles) & CITY_WIDE_ROLES)
    return False
