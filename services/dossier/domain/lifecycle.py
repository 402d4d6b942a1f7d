"""The one-stop dossier lifecycle as a pure state machine: statuses, actions, who may act.

Status codes are the national ones provincial systems use when syncing with the national
portal (1-10). A transition names the status it leaves, the status it enters and the
roles allowed to make it; everything else is an illegal transition.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class Status(IntEnum):
    NEW = 1  # Mới đăng ký
    ACCEPTED = 2  # Được tiếp nhận
    REFUSED = 3  # Không được tiếp nhận
    PROCESSING = 4  # Đang xử lý
    SUPPLEMENT_REQUESTED = 5  # Yêu cầu bổ sung giấy tờ
    FINANCIAL_OBLIGATION = 6  # Yêu cầu thực hiện nghĩa vụ tài chính
    WITHDRAWN = 7  # Công dân yêu cầu rút hồ sơ
    STOPPED = 8  # Dừng xử lý
    PROCESSED = 9  # Đã xử lý xong
    RETURNED = 10  # Đã trả kết quả

    @property
    def label(self) -> str:
        return STATUS_LABELS[self]


STATUS_LABELS = {
    Status.NEW: "Mới đăng ký",
    Status.ACCEPTED: "Được tiếp nhận",
    Status.REFUSED: "Không được tiếp nhận",
    Status.PROCESSING: "Đang xử lý",
    Status.SUPPLEMENT_REQUESTED: "Yêu cầu bổ sung giấy tờ",
    Status.FINANCIAL_OBLIGATION: "Yêu cầu thực hiện nghĩa vụ tài chính",
    Status.WITHDRAWN: "Công dân yêu cầu rút hồ sơ",
    Status.STOPPED: "Dừng xử lý",
    Status.PROCESSED: "Đã xử lý xong",
    Status.RETURNED: "Đã trả kết quả",
}

FINAL = frozenset({Status.REFUSED, Status.WITHDRAWN, Status.STOPPED, Status.RETURNED})

APPLICANT = "applicant"
RECEPTION = "reception"
PROCESSING = "processing"
APPROVAL = "approval"


@dataclass(frozen=True)
class Transition:
    action: str
    sources: frozenset[Status]
    target: Status
    roles: frozenset[str]
    # Vietnamese name of the action, shown in the dossier log.
    label: str
    needs_note: bool = False


def _t(action, sources, target, roles, label, needs_note=False) -> Transition:
    return Transition(action, frozenset(sources), target, frozenset(roles), label, needs_note)


TRANSITIONS: dict[str, Transition] = {
    t.action: t
    for t in (
        _t("accept", {Status.NEW}, Status.ACCEPTED, {RECEPTION}, "Tiếp nhận hồ sơ"),
        _t("request_supplement", {Status.NEW}, Status.SUPPLEMENT_REQUESTED, {RECEPTION},
           "Yêu cầu bổ sung, hoàn thiện hồ sơ", needs_note=True),
        _t("refuse", {Status.NEW}, Status.REFUSED, {RECEPTION}, "Từ chối tiếp nhận hồ sơ", needs_note=True),
        _t("withdraw", {Status.NEW, Status.ACCEPTED, Status.PROCESSING, Status.SUPPLEMENT_REQUESTED},
           Status.WITHDRAWN, {APPLICANT}, "Công dân yêu cầu rút hồ sơ"),
    )
}


class IllegalTransition(Exception):
    def __init__(self, action: str, status: Status):
        super().__init__(f"cannot {action} a dossier in status {int(status)}")
        self.action = action
        self.status = status


class UnknownAction(Exception):
    pass


class NotAllowed(Exception):
    pass


def transition_for(action: str, status: Status, role: str) -> Transition:
    """The transition ``role`` makes with ``action`` from ``status``, or why it cannot."""
    transition = TRANSITIONS.get(action)
    if transition is None:
        raise UnknownAction(action)
    if role not in transition.roles:
        raise NotAllowed(action)
    if status not in transition.sources:
        raise IllegalTransition(action, status)
    return transition
