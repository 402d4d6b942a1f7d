"""Who sees which dossier: applicants their own (a business's representative its
business's), officials their agency's. Anything else is "not found", so a code cannot be
probed for existence."""

from __future__ import annotations

from services.dossier.domain.lifecycle import APPLICANT, FINAL
from services.dossier.store.models import Dossier
from services.platform.errors import NotFound, PermissionDenied
from services.platform.principal import Principal

APPLICANT_KINDS = {"citizen", "business", "organisation"}
FINAL_CODES = tuple(sorted(int(s) for s in FINAL))
OFFICIAL_ROLES = ("reception", "processing", "approval", "agency_admin")


def not_found(code: str) -> NotFound:
    return NotFound(f"Không tìm thấy hồ sơ {code}.")


def can_see(principal: Principal, dossier: Dossier) -> bool:
    if principal.is_official:
        return principal.agency_code == dossier.agency_code and principal.has_role(*OFFICIAL_ROLES)
    return principal.kind in APPLICANT_KINDS and dossier.applicant_id == principal.applicant_id


def sees_internal(principal: Principal) -> bool:
    """Officials read the full log; applicants without internal notes."""
    return principal.is_official


def candidate_roles(principal: Principal, dossier: Dossier, wanted: frozenset[str]) -> list[str]:
    """The roles in which ``principal`` could take an action that ``wanted`` roles may take."""
    if not can_see(principal, dossier):
        raise not_found(dossier.code)
    if not principal.is_official:
        return [APPLICANT]
    roles = [r for r in principal.roles if r in wanted]
    if not roles:
        raise PermissionDenied("Tài khoản của bạn không có vai trò thực hiện thao tác này.")
    return roles


def require_official(principal: Principal) -> None:
    if not principal.is_official or not principal.agency_code:
        raise PermissionDenied("Chỉ cán bộ của cơ quan mới xem được hàng đợi hồ sơ.")

