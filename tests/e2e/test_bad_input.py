"""Bad input gets a clear problem+json 4xx and leaves nothing half-written."""

from __future__ import annotations

import sqlite3
import time

import jwt
import pytest

from tests.e2e.portal import Portal

pytestmark = pytest.mark.system


@pytest.fixture(scope="module")
def portal(system):
    return Portal(system.gateway_url)


@pytest.fixture(scope="module")
def citizen_token(portal):
    citizen = portal.register_citizen()
    return portal.token(citizen["username"], citizen["password"])


def _problem(reply, status: int) -> dict:
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"].startswith("application/problem+json")
    body = reply.json()
    assert body["status"] == status and body["detail"] and body["request_id"]
    return body


def _count(portal, token) -> int:
    return portal.http.get("/api/v1/dossiers", headers=portal.bearer(token)).json()["total"]


def test_malformed_json_is_a_400(portal, citizen_token):
    reply = portal.http.post("/api/v1/dossiers", headers={**portal.bearer(citizen_token),
                             "content-type": "application/json"}, content=b'{"procedure_code": ')
    assert "JSON" in _problem(reply, 400)["detail"]


def test_wrong_types_and_unknown_fields_name_the_field(portal, citizen_token):
    body = _problem(portal.http.post("/api/v1/dossiers", headers=portal.bearer(citizen_token),
                                     json={"procedure_code": 12, "form_data": "x"}), 422)
    assert "procedure_code" in body["errors"] and "form_data" in body["errors"]
    body = _problem(portal.http.post("/api/v1/dossiers", headers=portal.bearer(citizen_token),
                                     json={"procedure_code": "1.001193", "surprise": 1}), 422)
    assert "surprise" in body["errors"]


def test_unknown_procedure_and_agency_are_refused_and_nothing_is_written(portal, citizen_token):
    before = _count(portal, citizen_token)
    body = _problem(portal.http.post("/api/v1/dossiers", headers=portal.bearer(citizen_token),
                                     json={"procedure_code": "9.999999"}), 422)
    assert body["errors"] == {"procedure_code": "unknown procedure"}
    body = _problem(portal.http.post("/api/v1/dossiers", headers=portal.bearer(citizen_token),
                                     json={"procedure_code": "1.001193", "agency_code": "999.99.99.H29"}), 422)
    assert "agency_code" in body["errors"]
    body = _problem(portal.http.post("/api/v1/dossiers", headers=portal.bearer(citizen_token),
                                     json={"procedure_code": "1.001193"}), 422)
    assert "agency_code" in body["errors"]
    assert _count(portal, citizen_token) == before


def test_oversized_bodies_are_refused(portal, citizen_token):
    big = {"procedure_code": "1.001193", "form_data": {"x": "a" * 1_200_000}}
    _problem(portal.http.post("/api/v1/dossiers", headers=portal.bearer(citizen_token), json=big), 413)

    def chunks():
        yield b'{"procedure_code": "1.001193", "form_data": {"x": "'
        for _ in range(20):
            yield b"a" * 100_000
        yield b'"}}'

    reply = portal.http.post("/api/v1/dossiers", headers={**portal.bearer(citizen_token),
                             "content-type": "application/json"}, content=chunks())
    _problem(reply, 413)


def test_missing_bad_and_expired_tokens_are_401(portal, system):
    assert _problem(portal.http.get("/api/v1/me"), 401)
    assert _problem(portal.http.get("/api/v1/me", headers={"Authorization": "Bearer not-a-jwt"}), 401)
    # A token signed with a key the issuer never published.
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    forged = jwt.encode({"sub": "x", "iss": f"{system.gateway_url}/auth", "aud": "motcua", "iat": now,
                         "exp": now + 600}, key, algorithm="RS256", headers={"kid": "forged"})
    assert _problem(portal.http.get("/api/v1/me", headers=portal.bearer(forged)), 401)
    # A token of the real issuer whose signature was tampered with.
    real = portal.register_citizen()
    token = portal.token(real["username"], real["password"])
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] <= 3600
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert _problem(portal.http.get("/api/v1/me", headers=portal.bearer(tampered)), 401)
    # An expired token signed by the issuer's own current key: the same claims, exp in the past.
    kid = jwt.get_unverified_header(token)["kid"]
    with sqlite3.connect(system.var_dir / "identity.db") as db:
        (pem,) = db.execute("select private_pem from signing_keys where kid = ?", (kid,)).fetchone()
    past = int(time.time()) - 3600
    expired = jwt.encode({**claims, "iat": past - 900, "nbf": past - 900, "exp": past}, pem, algorithm="RS256",
                         headers={"kid": kid})
    body = _problem(portal.http.get("/api/v1/me", headers=portal.bearer(expired)), 401)
    assert "hết hạn" in body["detail"]
    # The same key and claims without the past exp pass: the refusal above is the expiry alone.
    fresh = jwt.encode({**claims, "iat": int(time.time()), "nbf": int(time.time()), "exp": int(time.time()) + 300},
                       pem, algorithm="RS256", headers={"kid": kid})
    assert portal.http.get("/api/v1/me", headers=portal.bearer(fresh)).status_code == 200


def test_registering_the_same_number_twice_is_a_409_that_reveals_nobody(portal):
    first = portal.register_citizen("Đỗ Minh Châu")
    again = portal.http.post("/api/v1/accounts", json={
        "identity_number": first["username"], "full_name": "Người Khác", "date_of_birth": "1995-03-04",
        "password": "MatKhau@99999"})
    body = _problem(again, 409)
    assert "Đỗ Minh Châu" not in again.text and first["id"] not in again.text
    assert body["errors"] == {"identity_number": "already registered"}


def test_registration_names_each_bad_field(portal):
    reply = portal.http.post("/api/v1/accounts", json={
        "identity_number": "12345", "full_name": "<script>alert(1)</script>", "date_of_birth": "2023-02-30",
        "password": "short"})
    body = _problem(reply, 422)
    assert set(body["errors"]) == {"identity_number", "full_name", "date_of_birth", "password"}


def test_wrong_password_and_unknown_user_get_the_same_answer(portal):
    citizen = portal.register_citizen()
    wrong = portal.http.post("/api/v1/auth/token", json={"username": citizen["username"], "password": "Sai@123456"})
    unknown = portal.http.post("/api/v1/auth/token", json={"username": "000000000000", "password": "Sai@123456"})
    assert _problem(wrong, 401)["detail"] == _problem(unknown, 401)["detail"]


def test_an_illegal_transition_is_a_409_naming_the_status(portal, citizen_token):
    from tests.e2e.portal import DEMO_OFFICIAL

    code = portal.submit(citizen_token, portal.commune_code()).json()["code"]
    official = portal.token(DEMO_OFFICIAL)
    assert portal.act(official, code, "refuse").status_code == 422  # a refusal needs its reason
    assert portal.act(official, code, "refuse", note="Sai thẩm quyền").status_code == 200
    body = _problem(portal.act(official, code, "accept"), 409)
    assert "Không được tiếp nhận" in body["detail"]
    assert _problem(portal.act(official, code, "fly"), 422)["errors"] == {"action": "unknown"}


def test_unknown_paths_and_methods_are_problems_too(portal):
    _problem(portal.http.get("/api/v1/nothing-here"), 404)
    _problem(portal.http.delete("/api/v1/procedures"), 405)
    _problem(portal.http.get("/api/v1/procedures/9.999999"), 404)
