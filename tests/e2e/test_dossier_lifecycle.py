"""A birth registration through the whole one-stop lifecycle, over the public REST API,
with the demo officials of Phường Sài Gòn: reception, processing, approval."""

from __future__ import annotations

import threading

import pytest

from tests.e2e.portal import BIRTH_FORM, Portal

pytestmark = pytest.mark.system

RECEPTION, PROCESSING, APPROVAL = "tiepnhan.saigon", "xuly.saigon", "pheduyet.saigon"


@pytest.fixture(scope="module")
def portal(system):
    return Portal(system.gateway_url)


@pytest.fixture(scope="module")
def officials(portal):
    tokens = {name: portal.token(name) for name in (RECEPTION, PROCESSING, APPROVAL)}
    ids = {name: portal.http.get("/api/v1/me", headers=portal.bearer(t)).json()["id"] for name, t in tokens.items()}
    return tokens, ids


def ok(reply, status=200):
    assert reply.status_code == status, reply.text
    return reply.json()


def test_a_birth_registration_from_filing_to_the_returned_result(portal, officials):
    tokens, ids = officials
    citizen = portal.register_citizen()
    me = portal.token(citizen["username"], citizen["password"])
    dossier = ok(portal.submit(me, portal.commune_code(), key="lifecycle-1"), 201)
    code, secret = dossier["code"], dossier["tracking_secret"]
    assert dossier["workflow_steps"] == 3

    accepted = ok(portal.act(tokens[RECEPTION], code, "accept", expected_version=dossier["version"]))
    assert accepted["status_code"] == 2 and accepted["due_at"] and accepted["deadline_flag"] in ("on_track", "due_soon")
    assigned = ok(portal.act(tokens[RECEPTION], code, "assign", assignee_id=ids[PROCESSING]))
    assert assigned["status_code"] == 4 and assigned["step_name"] == "Tiếp nhận hồ sơ" and assigned["step_due_at"]
    ok(portal.act(tokens[RECEPTION], code, "complete_step", note="Đã kiểm tra thành phần hồ sơ"))

    mine = portal.http.get("/api/v1/work/dossiers", headers=portal.bearer(tokens[PROCESSING]),
                           params={"assigned_to_me": "true", "page_size": 100}).json()
    assert code in [d["code"] for d in mine["items"]]

    asked = ok(portal.act(tokens[PROCESSING], code, "request_supplement",
                          missing_items=["Giấy chứng sinh bản rõ nét"], note="Bản chụp bị mờ"))
    assert asked["status_code"] == 5 and asked["missing_items"] == ["Giấy chứng sinh bản rõ nét"]
    doc = portal.upload_mandatory(me, "1.001193")[0]  # a clearer scan of the same paper
    back = portal.http.post(f"/api/v1/dossiers/{code}/actions/supplement", headers=portal.bearer(me),
                            json={"document_ids": [doc], "note": "Đã chụp lại rõ nét"})
    assert ok(back)["status_code"] == 4
    ok(portal.act(tokens[PROCESSING], code, "complete_step", note="Đủ điều kiện", internal_note="Đã đối chiếu CSDL"))
    ok(portal.act(tokens[PROCESSING], code, "request_fees", fees_vnd=8000))
    ok(portal.act(tokens[RECEPTION], code, "pay"))
    approved = ok(portal.act(tokens[APPROVAL], code, "approve"))
    assert approved["status_code"] == 9 and approved["finished_at"]
    result = portal.upload(tokens[PROCESSING], "result", filename="trich-luc-khai-sinh.pdf")
    ok(portal.act(tokens[PROCESSING], code, "result_ready", result_document_id=result))
    returned = ok(portal.act(tokens[RECEPTION], code, "return_result", return_method="download"))
    assert returned["status_code"] == 10 and returned["return_method"] == "download"

    log = ok(portal.http.get(f"/api/v1/dossiers/{code}/log", headers=portal.bearer(me)))["items"]
    actions = [e["action"] for e in log]
    for action in ("submit", "document", "accept", "deadline", "assign", "request_supplement", "supplement",
                   "complete_step", "request_fees", "pay", "approve", "result_ready", "return_result"):
        assert action in actions, action
    assert all("internal_note" not in e for e in log)
    full = ok(portal.http.get(f"/api/v1/work/dossiers/{code}/log", headers=portal.bearer(tokens[RECEPTION])))["items"]
    assert any(e.get("internal_note") == "Đã đối chiếu CSDL" for e in full)
    assert all(b["prev_hash"] == a["hash"] for a, b in zip(full, full[1:]))

    public = ok(portal.http.get(f"/api/v1/tracking/{code}", params={"secret": secret}))
    assert public["status_code"] == 10 and citizen["full_name"] not in str(public)
    inbox = portal.wait_notifications(me, lambda items: any(n["event_type"] == "dossier.returned" for n in items))
    assert any(n["event_type"] == "dossier.returned" for n in inbox)


def test_every_problem_of_a_bad_submission_is_listed_at_once(portal):
    citizen = portal.register_citizen()
    me = portal.token(citizen["username"], citizen["password"])
    reply = portal.submit(me, portal.commune_code(), form={"child_sex": "X"}, document_ids=[])
    assert reply.status_code == 422
    errors = reply.json()["errors"]
    assert {"form_data.child_full_name", "form_data.child_date_of_birth", "form_data.child_sex"} <= set(errors)
    assert any(k.startswith("documents.") for k in errors)
    assert portal.http.get("/api/v1/dossiers", headers=portal.bearer(me)).json()["total"] == 0


def test_approving_a_refused_dossier_is_a_clear_409(portal, officials):
    tokens, _ = officials
    citizen = portal.register_citizen()
    me = portal.token(citizen["username"], citizen["password"])
    code = ok(portal.submit(me, portal.commune_code()), 201)["code"]
    ok(portal.act(tokens[RECEPTION], code, "refuse", note="Không thuộc thẩm quyền"))
    reply = portal.act(tokens[APPROVAL], code, "approve")
    assert reply.status_code == 409 and reply.headers["content-type"].startswith("application/problem+json")
    assert "Không được tiếp nhận" in reply.json()["detail"]


def test_two_officials_at_once_one_wins_the_other_gets_409(portal, officials):
    tokens, ids = officials
    citizen = portal.register_citizen()
    me = portal.token(citizen["username"], citizen["password"])
    dossier = ok(portal.submit(me, portal.commune_code()), 201)
    replies = []

    def accept():
        replies.append(Portal(str(portal.http.base_url)).act(tokens[RECEPTION], dossier["code"], "accept",
                                                             expected_version=dossier["version"]))

    threads = [threading.Thread(target=accept) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.status_code for r in replies) == [200, 409]


def test_a_retried_action_with_the_same_key_acts_once(portal, officials):
    tokens, _ = officials
    citizen = portal.register_citizen()
    me = portal.token(citizen["username"], citizen["password"])
    code = ok(portal.submit(me, portal.commune_code()), 201)["code"]
    headers = {**portal.bearer(tokens[RECEPTION]), "Idempotency-Key": f"accept-{code}"}
    first = portal.http.post(f"/api/v1/work/dossiers/{code}/actions/accept", headers=headers, json={})
    second = portal.http.post(f"/api/v1/work/dossiers/{code}/actions/accept", headers=headers, json={})
    assert first.status_code == second.status_code == 200
    assert second.headers.get("Idempotent-Replayed") == "true" and second.json()["version"] == first.json()["version"]


def test_strangers_get_404_and_officials_of_other_agencies_too(portal, officials):
    tokens, _ = officials
    alice = portal.register_citizen("Trần Thị Ánh")
    bob = portal.register_citizen("Lê Văn Bảo")
    alice_token = portal.token(alice["username"], alice["password"])
    bob_token = portal.token(bob["username"], bob["password"])
    code = ok(portal.submit(alice_token, portal.commune_code("Phường Bến Thành")), 201)["code"]
    for token in (bob_token, tokens[RECEPTION]):
        assert portal.http.get(f"/api/v1/dossiers/{code}", headers=portal.bearer(token)).status_code == 404
        assert portal.http.get(f"/api/v1/dossiers/{code}/log", headers=portal.bearer(token)).status_code == 404
    assert portal.http.post(f"/api/v1/dossiers/{code}/actions/withdraw", headers=portal.bearer(bob_token),
                            json={}).status_code == 404
    withdrawn = portal.http.post(f"/api/v1/dossiers/{code}/actions/withdraw", headers=portal.bearer(alice_token),
                                 json={"note": "Nộp nhầm"})
    assert ok(withdrawn)["status_code"] == 7


def test_a_reception_official_files_at_the_counter_for_an_applicant(portal, officials):
    tokens, _ = officials
    citizen = portal.register_citizen()
    docs = portal.upload_mandatory(tokens[RECEPTION], "1.001193")
    reply = portal.http.post("/api/v1/work/dossiers", headers=portal.bearer(tokens[RECEPTION]), json={
        "procedure_code": "1.001193", "form_data": BIRTH_FORM, "document_ids": docs, "channel": "in_person",
        "applicant_id": citizen["id"], "applicant_name": citizen["full_name"]})
    dossier = ok(reply, 201)
    assert dossier["channel"] == "in_person" and dossier["applicant_id"] == citizen["id"]
    me = portal.token(citizen["username"], citizen["password"])
    assert dossier["code"] in [d["code"] for d in portal.http.get("/api/v1/dossiers", headers=portal.bearer(me))
                               .json()["items"]]
