"""The dossier lifecycle as a pure state machine: who may do what from which status."""

from __future__ import annotations

import pytest

from services.dossier.domain.lifecycle import (
    APPLICANT,
    APPROVAL,
    FINAL,
    PROCESSING,
    RECEPTION,
    STATUS_LABELS,
    TRANSITIONS,
    IllegalTransition,
    NotAllowed,
    Status,
    UnknownAction,
    transition_for,
)

RECEPTION_ACTIONS = {
    "accept": Status.ACCEPTED,
    "refuse": Status.REFUSED,
    "request_supplement": Status.SUPPLEMENT_REQUESTED,
}


@pytest.mark.parametrize("action,target", RECEPTION_ACTIONS.items())
def test_reception_decides_on_a_new_dossier(action, target):
    transition = transition_for(action, Status.NEW, RECEPTION)
    assert transition.action == action
    assert transition.target is target


@pytest.mark.parametrize("action", RECEPTION_ACTIONS)
@pytest.mark.parametrize("status", [s for s in Status if s is not Status.NEW])
def test_reception_decisions_are_only_possible_on_a_new_dossier(action, status):
    with pytest.raises(IllegalTransition) as err:
        transition_for(action, status, RECEPTION)
    assert err.value.action == action
    assert err.value.status is status


@pytest.mark.parametrize("action", RECEPTION_ACTIONS)
@pytest.mark.parametrize("role", [APPLICANT, PROCESSING, APPROVAL, "", "admin"])
def test_only_reception_accepts_refuses_or_requests_supplements(action, role):
    with pytest.raises(NotAllowed):
        transition_for(action, Status.NEW, role)


def test_accepting_a_refused_dossier_is_an_illegal_transition():
    with pytest.raises(IllegalTransition) as err:
        transition_for("accept", Status.REFUSED, RECEPTION)
    assert err.value.status is Status.REFUSED
    assert "accept" in str(err.value) and "3" in str(err.value)


def test_refusing_and_requesting_supplement_require_a_note_but_accepting_does_not():
    assert transition_for("refuse", Status.NEW, RECEPTION).needs_note
    assert transition_for("request_supplement", Status.NEW, RECEPTION).needs_note
    assert not transition_for("accept", Status.NEW, RECEPTION).needs_note


@pytest.mark.parametrize(
    "status", [Status.NEW, Status.ACCEPTED, Status.PROCESSING, Status.SUPPLEMENT_REQUESTED]
)
def test_applicant_withdraws_an_open_dossier(status):
    assert transition_for("withdraw", status, APPLICANT).target is Status.WITHDRAWN


@pytest.mark.parametrize("role", [RECEPTION, PROCESSING, APPROVAL])
def test_only_the_applicant_withdraws(role):
    with pytest.raises(NotAllowed):
        transition_for("withdraw", Status.NEW, role)


@pytest.mark.parametrize("status", sorted(FINAL | {Status.PROCESSED, Status.FINANCIAL_OBLIGATION}))
def test_withdrawing_a_closed_or_decided_dossier_is_illegal(status):
    with pytest.raises(IllegalTransition):
        transition_for("withdraw", status, APPLICANT)


def test_no_transition_leaves_a_final_status():
    for transition in TRANSITIONS.values():
        assert not (transition.sources & FINAL), transition.action


@pytest.mark.parametrize("action", ["approve", "", "ACCEPT", "delete"])
def test_an_unknown_action_is_reported_as_unknown_whatever_the_role(action):
    with pytest.raises(UnknownAction):
        transition_for(action, Status.NEW, RECEPTION)
    with pytest.raises(UnknownAction):
        transition_for(action, Status.NEW, "nobody")


def test_transition_labels_are_vietnamese_log_texts():
    assert TRANSITIONS["accept"].label == "Tiếp nhận hồ sơ"
    assert TRANSITIONS["refuse"].label == "Từ chối tiếp nhận hồ sơ"
    assert TRANSITIONS["withdraw"].label == "Công dân yêu cầu rút hồ sơ"


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
