"""One real path through every service, over the public REST API."""

from __future__ import annotations

import re

import pytest

from tests.e2e.portal import BIRTH_FORM, DEMO_OFFICIAL, Portal

pytestmark = pytest.mark.system


@pytest.fixture(scope="module")
def portal(system):
    return Portal(system.gateway_url)


def test_citizen_files_a_birth_registration_and_follows_it_to_acceptance(portal):
    citizen = portal.register_citizen()
    token = portal.token(citizen["username"], citizen["password"])
    me = portal.http.get("/api/v1/me", headers=portal.bearer(token)).json()
    assert me["kind"] == "citizen" and me["identity_number_masked"].endswith(citizen["username"][-4:])
    assert citizen["username"] not in me["identity_number_masked"]

    found = portal.http.get("/api/v1/procedures", params={"q": "khai sinh"}).json()["items"]
    assert found[0]["name"] == "Thủ tục đăng ký khai sinh"
    assert "Đăng ký khai sinh".lower() in found[0]["name"].lower()

    agency = portal.commune_code()
    reply = portal.submit(token, agency, key="skeleton-1")
    assert reply.status_code == 201, reply.text
    dossier = reply.json()
    assert re.fullmatch(rf"{re.escape(agency)}-\d{{6}}-\d{{4}}", dossier["code"])
    assert dossier["status_code"] == 1 and dossier["status"] == "Mới đăng ký"
    code, secret = dossier["code"], dossier["tracking_secret"]

    official = portal.token(DEMO_OFFICIAL)
    queue = portal.http.get("/api/v1/work/dossiers", headers=portal.bearer(official),
                            params={"page_size": 100}).json()
    assert code in [d["code"] for d in queue["items"]]
    accepted = portal.act(official, code, "accept", expected_version=dossier["version"])
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status_code"] == 2 and accepted.json()["due_at"]

    log = portal.http.get(f"/api/v1/dossiers/{code}/log", headers=portal.bearer(token)).json()["items"]
    steps = [e for e in log if e["action"] in ("submit", "accept")]
    assert [(e["action"], e["status_code"]) for e in steps] == [("submit", 1), ("accept", 2)]
    assert steps[0]["actor_id"] == citizen["id"] and steps[1]["actor_role"] == "reception"
    assert all(e["at"] for e in log) and all(b["prev_hash"] == a["hash"] for a, b in zip(log, log[1:]))

    inbox = portal.wait_notifications(token, lambda items: any(n["event_type"] == "dossier.accepted" for n in items))
    accepted_notes = [n for n in inbox if n["event_type"] == "dossier.accepted"]
    assert len(accepted_notes) == 1 and code in accepted_notes[0]["body"]

    public = portal.http.get(f"/api/v1/tracking/{code}", params={"secret": secret})
    assert public.status_code == 200
    view = public.json()
    assert view["status_code"] == 2 and view["code"] == code
    assert citizen["full_name"] not in public.text and citizen["id"] not in public.text
    assert "applicant" not in public.text


def test_tracking_needs_the_receipt_secret(portal):
    citizen = portal.register_citizen()
    token = portal.token(citizen["username"], citizen["password"])
    dossier = portal.submit(token, portal.commune_code()).json()
    wrong = portal.http.get(f"/api/v1/tracking/{dossier['code']}", params={"secret": "AAAAAAAAAA"})
    unknown = portal.http.get("/api/v1/tracking/000.00.99.H29-990101-0001", params={"secret": "AAAAAAAAAA"})
    missing = portal.http.get(f"/api/v1/tracking/{dossier['code']}")
    assert wrong.status_code == unknown.status_code == 404
    assert wrong.json()["detail"] == unknown.json()["detail"]
    assert missing.status_code == 422


def test_a_retried_submission_with_the_same_key_creates_one_dossier(portal):
    citizen = portal.register_citizen()
    token = portal.token(citizen["username"], citizen["password"])
    agency = portal.commune_code()
    first = portal.submit(token, agency, key="retry-me")
    second = portal.submit(token, agency, key="retry-me")
    assert first.status_code == second.status_code == 201
    assert first.json()["code"] == second.json()["code"]
    assert second.headers.get("Idempotent-Replayed") == "true"
    other = portal.submit(token, agency, key="retry-me", form={"changed": True})
    assert other.status_code == 409
    mine = portal.http.get("/api/v1/dossiers", headers=portal.bearer(token)).json()
    assert mine["total"] == 1


def test_a_citizen_sees_only_their_own_dossiers(portal):
    alice = portal.register_citizen("Trần Thị Ánh")
    bob = portal.register_citizen("Lê Văn Bảo")
    alice_token = portal.token(alice["username"], alice["password"])
    bob_token = portal.token(bob["username"], bob["password"])
    code = portal.submit(alice_token, portal.commune_code()).json()["code"]
    for path in (f"/api/v1/dossiers/{code}", f"/api/v1/dossiers/{code}/log"):
        assert portal.http.get(path, headers=portal.bearer(bob_token)).status_code == 404
    assert portal.http.get("/api/v1/dossiers", headers=portal.bearer(bob_token)).json()["total"] == 0
    # A citizen cannot act as reception either.
    assert portal.act(bob_token, code, "accept").status_code == 404
    assert portal.act(alice_token, code, "accept").status_code == 403


def test_an_official_sees_only_their_agencys_dossiers(portal):
    citizen = portal.register_citizen()
    token = portal.token(citizen["username"], citizen["password"])
    other_commune = portal.commune_code("Phường Bến Thành")
    code = portal.submit(token, other_commune).json()["code"]
    official = portal.token(DEMO_OFFICIAL)
    queue = portal.http.get("/api/v1/work/dossiers", headers=portal.bearer(official), params={"page_size": 100})
    assert code not in [d["code"] for d in queue.json()["items"]]
    assert portal.http.get(f"/api/v1/dossiers/{code}", headers=portal.bearer(official)).status_code == 404
    assert portal.act(official, code, "accept").status_code == 404


def test_two_officials_accepting_at_once_one_wins(portal):
    citizen = portal.register_citizen()
    token = portal.token(citizen["username"], citizen["password"])
    dossier = portal.submit(token, portal.commune_code()).json()
    official = portal.token(DEMO_OFFICIAL)
    first = portal.act(official, dossier["code"], "refuse", note="Thiếu giấy chứng sinh",
                       expected_version=dossier["version"])
    second = portal.act(official, dossier["code"], "accept", expected_version=dossier["version"])
    assert first.status_code == 200
    assert second.status_code == 409 and second.headers["content-type"].startswith("application/problem+json")


def test_health_metrics_and_issuer_discovery(portal):
    health = portal.http.get("/healthz")
    assert health.status_code == 200
    body = health.json()
    assert body["nats"] == "SERVING"
    assert {s: v["database"] for s, v in body["services"].items()} == dict.fromkeys(
        ("identity", "catalogue", "dossier", "notification"), "SERVING")
    portal.http.get("/api/v1/procedures", params={"q": "ket hon"})
    metrics = portal.http.get("/metrics").text
    assert 'motcua_http_requests_total{method="GET",route="/api/v1/procedures",status="200"}' in metrics
    discovery = portal.http.get("/auth/.well-known/openid-configuration").json()
    jwks = portal.http.get("/auth/jwks").json()
    assert discovery["jwks_uri"].endswith("/auth/jwks") and jwks["keys"][0]["alg"] == "RS256"


def test_access_token_verifies_against_the_published_jwks(portal):
    import jwt

    citizen = portal.register_citizen()
    token = portal.token(citizen["username"], citizen["password"])
    discovery = portal.http.get("/auth/.well-known/openid-configuration").json()
    jwks = portal.http.get("/auth/jwks").json()
    kid = jwt.get_unverified_header(token)["kid"]
    key = jwt.PyJWK(next(k for k in jwks["keys"] if k["kid"] == kid))
    claims = jwt.decode(token, key.key, algorithms=["RS256"], audience="motcua", issuer=discovery["issuer"])
    assert claims["sub"] == citizen["id"]


def test_the_portal_pages_speak_vietnamese(portal):
    home = portal.http.get("/", params={"q": "dang ky ket hon"})
    assert home.status_code == 200 and "Thủ tục đăng ký kết hôn" in home.text and 'lang="vi"' in home.text
    page = portal.http.get("/thu-tuc/1.000894")
    assert page.status_code == 200 and "Thành phần hồ sơ" in page.text
    assert portal.http.get("/tra-cuu", params={"code": "x", "secret": "y"}).status_code == 404


def test_one_request_id_follows_a_submission_through_every_service(portal, system):
    citizen = portal.register_citizen()
    token = portal.token(citizen["username"], citizen["password"])
    request_id = "trace" + "0123456789abcdef" * 2
    documents = portal.upload_mandatory(token, "1.001193")
    reply = portal.http.post("/api/v1/dossiers", headers={**portal.bearer(token), "X-Request-Id": request_id},
                             json={"procedure_code": "1.001193", "agency_code": portal.commune_code(),
                                   "form_data": BIRTH_FORM, "document_ids": documents})
    assert reply.status_code == 201 and reply.headers["X-Request-Id"] == request_id
    portal.wait_notifications(token, lambda items: len(items) == 1)
    logs = system.var_dir / "log"
    seen = {}
    for name in ("gateway", "dossier", "notification"):
        lines = [line for line in (logs / f"{name}.log").read_text().splitlines() if request_id in line]
        seen[name] = lines
    # The gateway logged the request and the dossier service the RPC (the procedure comes from
    # its own snapshot, not a catalogue call); the notification service handled the event
    # carrying the id in its NATS headers.
    assert all(seen.values()), {k: len(v) for k, v in seen.items()}
    assert any('"event_handled"' in line for line in seen["notification"])
    assert citizen["username"] not in (logs / "identity.log").read_text()
