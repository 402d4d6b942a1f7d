"""The dossier lifecycle as a pure state machine: who may do what from which status."""

from __future__ import annotations

import itertools

import pytest

from services.dossier.domain.lifecycle import (
    AGENCY_ADMIN,
    APPLICANT,
    APPROVAL,
    FINAL,
    IN_PERSON,
    ONLINE,
    POST,
    PROCESSING,
    RECEPTION,
    RUNNING,
    STATUS_LABELS,
    TRANSITIONS,
    DossierState,
    IllegalTransition,
    NotAllowed,
    Status,
    UnknownAction,
    decide,
    event_type,
    may_submit,
    transition_for,
)

S = Status
ROLES = [APPLICANT, RECEPTION, PROCESSING, APPROVAL, AGENCY_ADMIN, "", "operator"]
OPEN_RUNNING = {S.ACCEPTED, S.PROCESSING, S.SUPPLEMENT_REQUESTED, S.FINANCIAL_OBLIGATION}
OFFICIALS = {RECEPTION, PROCESSING, APPROVAL, AGENCY_ADMIN}

# The rules written out independently of the implementation: action -> {status: roles}.
ALLOWED: dict[str, dict[Status, set[str]]] = {
    "accept": {S.NEW: {RECEPTION}},
    "request_supplement": {S.NEW: {RECEPTION}, S.PROCESSING: {PROCESSING}},
    "supplement": {S.SUPPLEMENT_REQUESTED: {APPLICANT, RECEPTION}},
    "refuse": {S.NEW: {RECEPTION}},
    "redirect": {S.NEW: {RECEPTION}},
    "assign": {S.ACCEPTED: {RECEPTION, AGENCY_ADMIN}, S.PROCESSING: {RECEPTION, AGENCY_ADMIN}},
    "complete_step": {S.PROCESSING: {RECEPTION, PROCESSING, APPROVAL}},
    "forward": {S.PROCESSING: {PROCESSING}},
    "request_fees": {S.PROCESSING: {PROCESSING, RECEPTION}},
    "pay": {S.FINANCIAL_OBLIGATION: {RECEPTION, PROCESSING}},
    "approve": {S.PROCESSING: {APPROVAL}},
    "result_ready": {S.PROCESSED: {PROCESSING, RECEPTION}},
    "return_result": {S.PROCESSED: {RECEPTION}},
    # Fees requested (6) too; reception records it for counter and postal filings.
    "withdraw": dict.fromkeys([S.NEW, S.ACCEPTED, S.PROCESSING, S.SUPPLEMENT_REQUESTED, S.FINANCIAL_OBLIGATION],
                              {APPLICANT, RECEPTION}),
    "stop": dict.fromkeys(OPEN_RUNNING, {APPROVAL}),
    "extend": dict.fromkeys(OPEN_RUNNING, {APPROVAL}),
    "message": dict.fromkeys(Status, OFFICIALS | {APPLICANT}),
    "note": dict.fromkeys(Status, OFFICIALS),
}

TARGETS = {
    "accept": S.ACCEPTED, "request_supplement": S.SUPPLEMENT_REQUESTED, "refuse": S.REFUSED,
    "assign": S.PROCESSING, "request_fees": S.FINANCIAL_OBLIGATION, "pay": S.PROCESSING,
    "approve": S.PROCESSED, "return_result": S.RETURNED, "withdraw": S.WITHDRAWN, "stop": S.STOPPED,
}


def test_the_table_covers_every_action_of_the_machine():
    assert set(ALLOWED) == set(TRANSITIONS)


@pytest.mark.parametrize("action,status,role",
                         list(itertools.product(sorted(ALLOWED), list(Status), ROLES)))
def test_every_transition_by_every_role_is_allowed_or_refused_as_the_rules_say(action, status, role):
    allowed_here = ALLOWED[action].get(status, set())
    allowed_anywhere = set().union(*ALLOWED[action].values())
    if role in allowed_here:
        transition = transition_for(action, status, role)
        assert transition.action == action
        if action in TARGETS:
            assert transition.target is TARGETS[action]
    elif role in allowed_anywhere and status not in ALLOWED[action]:
        with pytest.raises(IllegalTransition) as err:
            transition_for(action, status, role)
        assert err.value.action == action and err.value.status is status
    else:
        with pytest.raises(NotAllowed):
            transition_for(action, status, role)


def test_approving_a_refused_dossier_is_an_illegal_transition():
    with pytest.raises(IllegalTransition) as err:
        transition_for("approve", Status.REFUSED, APPROVAL)
    assert err.value.status is Status.REFUSED
    assert "approve" in str(err.value) and "3" in str(err.value)


def test_no_status_changing_transition_leaves_a_final_status():
    for transition in TRANSITIONS.values():
        if transition.action in ("message", "note"):
            continue
        assert not (transition.sources & FINAL), transition.action


@pytest.mark.parametrize("action", ["", "ACCEPT", "delete", "submit"])
def test_an_unknown_action_is_reported_as_unknown_whatever_the_role(action):
    for role in (RECEPTION, "nobody"):
        with pytest.raises(UnknownAction):
            transition_for(action, Status.NEW, role)


def test_refusal_stop_extension_and_supplement_request_need_a_reason():
    for action in ("refuse", "stop", "extend", "request_supplement", "redirect", "message"):
        assert TRANSITIONS[action].needs_note, action
    for action in ("accept", "assign", "approve", "withdraw", "pay"):
        assert not TRANSITIONS[action].needs_note, action


def test_only_internal_notes_are_hidden_from_the_applicant():
    assert [a for a, t in TRANSITIONS.items() if t.internal] == ["note"]


@pytest.mark.parametrize("role,channel,ok", [
    (APPLICANT, ONLINE, True), (APPLICANT, IN_PERSON, False), (APPLICANT, POST, False),
    (RECEPTION, IN_PERSON, True), (RECEPTION, POST, True), (RECEPTION, ONLINE, False),
    (PROCESSING, IN_PERSON, False), (APPROVAL, POST, False),
])
def test_who_submits_through_which_channel(role, channel, ok):
    assert may_submit(role, channel) is ok


def test_event_names_follow_the_contract():
    expected = {
        "accept": "accepted", "request_supplement": "supplement_requested", "supplement": "supplemented",
        "refuse": "refused", "redirect": "redirected", "assign": "assigned", "complete_step": "step_completed",
        "forward": "forwarded", "request_fees": "fees_requested", "pay": "paid", "approve": "approved",
        "result_ready": "result_ready", "return_result": "returned", "withdraw": "withdrawn", "stop": "stopped",
        "extend": "extended", "message": "message",
    }
    for action, past in expected.items():
        assert event_type(action) == f"dossier.{past}"
    assert event_type("submit") == "dossier.submitted"
    assert event_type("note") == ""


# --- guards beyond the table ------------------------------------------------------------

WORKFLOW = DossierState(status=S.PROCESSING, accepted=True, assignee_id="u-proc",
                        step_roles=(PROCESSING, "", APPROVAL), step_inter_agency=(False, True, False))


def test_supplement_returns_to_reception_before_acceptance_and_to_processing_after():
    before = DossierState(status=S.SUPPLEMENT_REQUESTED, accepted=False)
    after = DossierState(status=S.SUPPLEMENT_REQUESTED, accepted=True)
    assert decide(before, "supplement", APPLICANT)[1] is S.NEW
    assert decide(after, "supplement", APPLICANT)[1] is S.PROCESSING


def test_reception_asks_for_a_supplement_once_then_once_per_processing_step():
    new = DossierState(status=S.NEW, accepted=False)
    assert decide(new, "request_supplement", RECEPTION)[1] is S.SUPPLEMENT_REQUESTED
    asked_at_reception = DossierState(status=S.NEW, accepted=False, supplement_stage=-1)
    with pytest.raises(IllegalTransition) as err:
        decide(asked_at_reception, "request_supplement", RECEPTION)
    assert "already requested" in err.value.why
    # After acceptance the reception request does not count against the first step...
    step0 = DossierState(status=S.PROCESSING, accepted=True, step_index=0, supplement_stage=-1,
                         step_roles=(PROCESSING, PROCESSING))
    assert decide(step0, "request_supplement", PROCESSING)[1] is S.SUPPLEMENT_REQUESTED
    # ...a second one at the same step is refused, the next step may ask again.
    with pytest.raises(IllegalTransition):
        decide(DossierState(status=S.PROCESSING, accepted=True, step_index=0, supplement_stage=0,
                            step_roles=(PROCESSING, PROCESSING)), "request_supplement", PROCESSING)
    step1 = DossierState(status=S.PROCESSING, accepted=True, step_index=1, supplement_stage=0,
                         step_roles=(PROCESSING, PROCESSING))
    assert decide(step1, "request_supplement", PROCESSING)[1] is S.SUPPLEMENT_REQUESTED


def test_reception_withdraws_only_a_dossier_filed_at_the_counter_or_by_post():
    for channel in (1, 3):
        state = DossierState(status=S.FINANCIAL_OBLIGATION, accepted=True, channel=channel)
        assert decide(state, "withdraw", RECEPTION)[1] is S.WITHDRAWN
    with pytest.raises(NotAllowed):
        decide(DossierState(status=S.PROCESSING, accepted=True, channel=2), "withdraw", RECEPTION)
    assert decide(DossierState(status=S.FINANCIAL_OBLIGATION, channel=2), "withdraw", APPLICANT)[1] is S.WITHDRAWN


def test_the_clock_runs_only_while_accepted_and_not_waiting_or_processed():
    assert S.SUPPLEMENT_REQUESTED not in RUNNING and S.PROCESSED not in RUNNING
    assert {S.ACCEPTED, S.PROCESSING, S.FINANCIAL_OBLIGATION} <= RUNNING


def test_a_processing_step_is_completed_by_its_assignee_only():
    assert decide(WORKFLOW, "complete_step", PROCESSING, actor_id="u-proc")[1] is S.PROCESSING
    with pytest.raises(NotAllowed):
        decide(WORKFLOW, "complete_step", PROCESSING, actor_id="someone-else")


def test_a_reception_step_is_completed_by_reception():
    state = DossierState(status=S.PROCESSING, accepted=True, assignee_id="u-proc", step_roles=(RECEPTION, PROCESSING),
                         step_inter_agency=(False, False))
    assert decide(state, "complete_step", RECEPTION, actor_id="u-rec")[1] is S.PROCESSING
    with pytest.raises(NotAllowed):
        decide(state, "complete_step", PROCESSING, actor_id="u-proc")


def test_a_step_is_completed_in_its_own_role():
    with pytest.raises(NotAllowed):
        decide(WORKFLOW, "complete_step", APPROVAL, actor_id="u-head")
    last = DossierState(**{**WORKFLOW.__dict__, "step_index": 2})
    assert decide(last, "complete_step", APPROVAL, actor_id="u-head")[1] is S.PROCESSING
    with pytest.raises(NotAllowed):
        decide(last, "complete_step", PROCESSING, actor_id="u-proc")


def test_approval_waits_for_every_workflow_step():
    with pytest.raises(IllegalTransition) as err:
        decide(WORKFLOW, "approve", APPROVAL)
    assert "3 workflow step" in str(err.value)
    second = DossierState(**{**WORKFLOW.__dict__, "step_index": 1})
    with pytest.raises(IllegalTransition):
        decide(second, "approve", APPROVAL)
    # The last step is the approval one: approving signs it off.
    last = DossierState(**{**WORKFLOW.__dict__, "step_index": 2})
    assert decide(last, "approve", APPROVAL)[1] is S.PROCESSED
    done = DossierState(**{**WORKFLOW.__dict__, "step_index": 3})
    assert decide(done, "approve", APPROVAL)[1] is S.PROCESSED
    with pytest.raises(IllegalTransition):
        decide(done, "complete_step", PROCESSING, actor_id="u-proc")


def test_only_an_inter_agency_step_forwards():
    with pytest.raises(IllegalTransition):
        decide(WORKFLOW, "forward", PROCESSING)
    second = DossierState(**{**WORKFLOW.__dict__, "step_index": 1})
    assert decide(second, "forward", PROCESSING)[1] is S.PROCESSING


def test_a_procedure_without_workflow_goes_straight_to_approval():
    plain = DossierState(status=S.PROCESSING, accepted=True)
    assert decide(plain, "approve", APPROVAL)[1] is S.PROCESSED
    with pytest.raises(IllegalTransition):
        decide(plain, "complete_step", PROCESSING)


def test_messages_and_extensions_keep_the_status():
    for status in (S.ACCEPTED, S.PROCESSING, S.FINANCIAL_OBLIGATION):
        state = DossierState(status=status, accepted=True)
        assert decide(state, "extend", APPROVAL)[1] is status
        assert decide(state, "message", APPLICANT)[1] is status


NATIONAL_NAMES = {
    1: "Mới đăng ký",
    2: "Được tiếp nhận",
    3: "Không được tiếp nhận",
    4: "Đang xử lý",
    5: "Yêu cầu bổ sung giấy tờ",
    6: "Yêu cầu thực hiện nghĩa vụ tài chính",
    7: "Công dân yêu cầu rút hồ sơ",
    8: "Dừng xử lý",
    9: "Đã xử lý xong",
    10: "Đã trả kết quả",
}


def test_status_codes_carry_the_national_vietnamese_names():
    assert sorted(int(s) for s in Status) == list(range(1, 11))
    assert {int(s): s.label for s in Status} == NATIONAL_NAMES
    assert set(STATUS_LABELS) == set(Status)
