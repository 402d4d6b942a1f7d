"""The one-stop dossier lifecycle as a pure state machine: statuses, actions, who may act.

Status codes are the national ones provincial systems use when syncing with the national
portal (1-10). A rule names the statuses an action may leave, the roles allowed to take it
from there and the status it enters; everything else is an illegal transition. Some
actions keep the status (a workflow step, a message, an extension) and one returns to the
status the dossier had before it waited (``supplement``).
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
OPEN = frozenset(Status) - FINAL
# Statuses in which the appointment date's clock runs, so a dossier can be due soon or
# overdue: accepted and not yet processed. Waiting for the applicant's supplement (5) is
# not among them: that time is not counted (Decision 766), the clock is stopped. A
# processed dossier (9) has met or missed its date already: it is never "overdue".
RUNNING = frozenset({Status.ACCEPTED, Status.PROCESSING, Status.FINANCIAL_OBLIGATION})
# Statuses in which an appointment date is held (the apology and extension may move it).
DATED = RUNNING | {Status.SUPPLEMENT_REQUESTED}

APPLICANT = "applicant"
RECEPTION = "reception"
PROCESSING = "processing"
APPROVAL = "approval"
AGENCY_ADMIN = "agency_admin"
SYSTEM = "system"
OFFICIALS = frozenset({RECEPTION, PROCESSING, APPROVAL, AGENCY_ADMIN})
EVERYONE = OFFICIALS | {APPLICANT}

# Intake channels as the national portal codes them.
IN_PERSON, ONLINE, POST = 1, 2, 3

WITHDRAWABLE = frozenset({Status.NEW, Status.ACCEPTED, Status.PROCESSING, Status.SUPPLEMENT_REQUESTED,
                          Status.FINANCIAL_OBLIGATION})
# The stage a supplement request belongs to: reception (before acceptance) or the
# processing step the dossier is at.
RECEPTION_STAGE = -1


class Target:
    """Markers for a rule's target that is not a fixed status."""

    SAME = "same"  # the status does not change
    RESUME = "resume"  # back to where the dossier was before it waited for the applicant


@dataclass(frozen=True)
class Rule:
    sources: frozenset[Status]
    roles: frozenset[str]


@dataclass(frozen=True)
class Transition:
    action: str
    rules: tuple[Rule, ...]
    target: Status | str
    # Vietnamese name of the action, shown in the dossier log.
    label: str
    # The past-tense event name: dossier.<event>.
    event: str
    needs_note: bool = False
    # Internal: only officials see the log entry (the applicant's log leaves it out).
    internal: bool = False

    @property
    def sources(self) -> frozenset[Status]:
        return frozenset().union(*(r.sources for r in self.rules))

    @property
    def roles(self) -> frozenset[str]:
        return frozenset().union(*(r.roles for r in self.rules))


def _t(action, target, label, event, *rules, needs_note=False, internal=False) -> Transition:
    return Transition(action, tuple(Rule(frozenset(s), frozenset(r)) for s, r in rules), target, label, event,
                      needs_note, internal)


S = Status
TRANSITIONS: dict[str, Transition] = {
    t.action: t
    for t in (
        # Reception (tiếp nhận): accept with the appointment slip (form 01), ask once for
        # everything missing (form 02), refuse with the reason (form 03), or redirect.
        _t("accept", S.ACCEPTED, "Tiếp nhận hồ sơ", "accepted", ({S.NEW}, {RECEPTION})),
        _t("request_supplement", S.SUPPLEMENT_REQUESTED, "Yêu cầu bổ sung, hoàn thiện hồ sơ", "supplement_requested",
           ({S.NEW}, {RECEPTION}), ({S.PROCESSING}, {PROCESSING}), needs_note=True),
        _t("supplement", Target.RESUME, "Bổ sung hồ sơ", "supplemented",
           ({S.SUPPLEMENT_REQUESTED}, {APPLICANT, RECEPTION})),
        _t("refuse", S.REFUSED, "Từ chối tiếp nhận hồ sơ", "refused", ({S.NEW}, {RECEPTION}), needs_note=True),
        _t("redirect", Target.SAME, "Chuyển hồ sơ đến cơ quan có thẩm quyền", "redirected",
           ({S.NEW}, {RECEPTION}), needs_note=True),
        # Processing (xử lý): assign, the procedure's workflow steps, inter-agency steps.
        _t("assign", S.PROCESSING, "Phân công xử lý", "assigned",
           ({S.ACCEPTED, S.PROCESSING}, {RECEPTION, AGENCY_ADMIN})),
        _t("complete_step", Target.SAME, "Hoàn thành bước xử lý", "step_completed",
           ({S.PROCESSING}, {RECEPTION, PROCESSING, APPROVAL})),
        _t("forward", Target.SAME, "Chuyển liên thông", "forwarded", ({S.PROCESSING}, {PROCESSING})),
        _t("request_fees", S.FINANCIAL_OBLIGATION, "Yêu cầu thực hiện nghĩa vụ tài chính", "fees_requested",
           ({S.PROCESSING}, {PROCESSING, RECEPTION})),
        _t("pay", S.PROCESSING, "Ghi nhận đã nộp phí, lệ phí", "paid",
           ({S.FINANCIAL_OBLIGATION}, {RECEPTION, PROCESSING})),
        _t("approve", S.PROCESSED, "Phê duyệt kết quả", "approved", ({S.PROCESSING}, {APPROVAL})),
        _t("result_ready", Target.SAME, "Có kết quả giải quyết", "result_ready",
           ({S.PROCESSED}, {PROCESSING, RECEPTION})),
        _t("return_result", S.RETURNED, "Trả kết quả", "returned", ({S.PROCESSED}, {RECEPTION})),
        # The applicant's withdrawal, the agency's stop (form 05) and the late path (form 04).
        # Withdrawal on the applicant's request: the domain rules set no status limit short
        # of a decision, so it is open while fees are requested too. Reception records it
        # for an applicant who filed at the counter or by post (with the reason).
        _t("withdraw", S.WITHDRAWN, "Công dân yêu cầu rút hồ sơ", "withdrawn",
           (WITHDRAWABLE, {APPLICANT, RECEPTION})),
        _t("stop", S.STOPPED, "Dừng xử lý hồ sơ", "stopped",
           ({S.ACCEPTED, S.PROCESSING, S.SUPPLEMENT_REQUESTED, S.FINANCIAL_OBLIGATION}, {APPROVAL}),
           needs_note=True),
        _t("extend", Target.SAME, "Xin lỗi và gia hạn thời gian giải quyết", "extended",
           (DATED, {APPROVAL}), needs_note=True),
        # Exchanges that do not change the status.
        _t("message", Target.SAME, "Trao đổi", "message", (set(Status), EVERYONE), needs_note=True),
        _t("note", Target.SAME, "Ghi chú nội bộ", "", (set(Status), OFFICIALS), needs_note=True, internal=True),
    )
}


class IllegalTransition(Exception):
    def __init__(self, action: str, status: Status, why: str = ""):
        super().__init__(why or f"cannot {action} a dossier in status {int(status)}")
        self.action = action
        self.status = status
        self.why = why


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
    if not any(status in r.sources and role in r.roles for r in transition.rules):
        raise NotAllowed(action)
    return transition


@dataclass(frozen=True)
class DossierState:
    """What the rules need to know about a dossier beyond its status."""

    status: Status
    accepted: bool = False
    assignee_id: str = ""
    step_index: int = 0
    # Roles of the procedure's workflow steps, in order ("" = processing).
    step_roles: tuple[str, ...] = ()
    step_inter_agency: tuple[bool, ...] = ()
    result_ready: bool = False
    channel: int = ONLINE
    # The stage of the last supplement request (RECEPTION_STAGE or a step index), if any.
    supplement_stage: int | None = None

    @property
    def stage(self) -> int:
        return self.step_index if self.accepted else RECEPTION_STAGE

    @property
    def steps_left(self) -> int:
        return max(len(self.step_roles) - self.step_index, 0)


def decide(state: DossierState, action: str, role: str, *, actor_id: str = "") -> tuple[Transition, Status]:
    """The transition and the status it leads to, checking the guards beyond the table:
    a workflow step is completed by its own role (and by the assignee for processing
    steps), approval waits for every step (signing off the last one when it is the
    approval step), an inter-agency step is the one that forwards,
    and a result returned for download needs the electronic result first.

    One consolidated supplement request per stage (one-stop-shop.md, "Dossier lifecycle":
    an incomplete dossier gets ONE written guidance, form 02, listing everything to
    supplement; Decision 766 counts more than one request as late): reception asks once;
    after acceptance, once per processing step. Reception withdraws only for a dossier
    filed at the counter or by post (an online applicant withdraws it themselves)."""
    transition = transition_for(action, state.status, role)
    if action == "request_supplement" and state.supplement_stage == state.stage:
        raise IllegalTransition(action, state.status, "a supplement was already requested at this stage: "
                                                      "one request must list everything missing")
    elif action == "withdraw" and role == RECEPTION and state.channel not in (IN_PERSON, POST):
        raise NotAllowed(action)
    elif action == "complete_step":
        if not state.steps_left:
            raise IllegalTransition(action, state.status, "no workflow step left to complete")
        step_role = state.step_roles[state.step_index] or PROCESSING
        if role != step_role:
            raise NotAllowed(action)
        if step_role == PROCESSING and state.assignee_id and actor_id and actor_id != state.assignee_id:
            raise NotAllowed(action)
    elif action == "forward":
        if not state.steps_left or not state.step_inter_agency[state.step_index]:
            raise IllegalTransition(action, state.status, "the current step is not an inter-agency step")
    elif action == "approve" and state.steps_left and not approves_last_step(state):
        raise IllegalTransition(action, state.status, f"{state.steps_left} workflow step(s) not completed")
    return transition, target_status(transition, state)


def approves_last_step(state: DossierState) -> bool:
    """Approval may sign off the workflow's last step when that step is the approval one."""
    return state.steps_left == 1 and state.step_roles[-1] == APPROVAL


def target_status(transition: Transition, state: DossierState) -> Status:
    if transition.target == Target.SAME:
        return state.status
    if transition.target == Target.RESUME:
        return Status.PROCESSING if state.accepted else Status.NEW
    return transition.target


def may_submit(role: str, channel: int) -> bool:
    """Online by the applicant; at the counter or by post by a reception official on the
    applicant's behalf."""
    if role == APPLICANT:
        return channel == ONLINE
    return role == RECEPTION and channel in (IN_PERSON, POST)


def event_type(action: str) -> str:
    """The outbox subject of an action: dossier.<past tense>; empty for internal notes."""
    if action == "submit":
        return "dossier.submitted"
    event = TRANSITIONS[action].event
    return f"dossier.{event}" if event else ""
