"""Accounts and sign-in through the gateway against the real embedded system."""

from __future__ import annotations

import email
import json
import re
import time
import uuid

import grpc
import jwt
import pytest

from motcua.v1 import identity_pb2, identity_pb2_grpc
from tests.e2e.portal import DEMO_PASSWORD, Portal, new_identity_number

pytestmark = pytest.mark.system

DEMO_CLIENT = ("demo-commune-saigon", "demo-commune-secret-2026")


@pytest.fixture(scope="module")
def portal(system):
    return Portal(system.gateway_url)


def _sign_in(portal, username, password):
    reply = portal.http.post("/api/v1/auth/token", json={"username": username, "password": password})
    assert reply.status_code == 200, reply.text
    return reply.json()


def _wait_code(system, predicate, timeout: float = 20) -> str:
    """The code the notification service delivered (dev sinks write SMS and email under var/outbox)."""
    outbox = system.var_dir / "outbox"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        texts = []
        sms = outbox / "sms.jsonl"
        if sms.exists():
            texts += [(json.loads(line)["phone"], json.loads(line)["message"])
                      for line in sms.read_text(encoding="utf-8").splitlines() if line.strip()]
        for eml in sorted((outbox / "email").glob("*.eml"), key=lambda p: p.stat().st_mtime):
            msg = email.message_from_bytes(eml.read_bytes())
            part = msg.get_body(preferencelist=("plain",)) if hasattr(msg, "get_body") else msg
            body = part.get_payload(decode=True).decode("utf-8", "replace") if part else ""
            texts.append((msg["To"] or "", body))
        for destination, text in reversed(texts):
            if predicate(destination):
                found = re.search(r"(?<!\d)\d{6}(?!\d)", text)
                if found:
                    return found.group(0)
        time.sleep(0.2)
    raise AssertionError("no code delivered")


def test_discovery_and_jwks_are_served_under_the_issuer(portal, system):
    doc = portal.http.get("/auth/.well-known/openid-configuration").json()
    assert doc["issuer"] == f"{system.gateway_url}/auth" and doc["jwks_uri"] == f"{system.gateway_url}/auth/jwks"
    keys = portal.http.get("/auth/jwks").json()["keys"]
    assert keys and all(k["alg"] == "RS256" and k["kid"] and "d" not in k for k in keys)
    token = _sign_in(portal, "079090001234", DEMO_PASSWORD)["access_token"]
    claims = jwt.decode(token, jwt.PyJWK(next(k for k in keys if k["kid"] == jwt.get_unverified_header(
        token)["kid"])).key, algorithms=["RS256"], audience="motcua", issuer=doc["issuer"])
    assert claims["kind"] == "citizen" and claims["vl"] == 1


def test_refresh_rotates_and_reuse_ends_the_session_over_http(portal):
    citizen = portal.register_citizen()
    first = _sign_in(portal, citizen["username"], citizen["password"])
    second = portal.http.post("/api/v1/auth/token", data={"grant_type": "refresh_token",
                                                          "refresh_token": first["refresh_token"]})
    assert second.status_code == 200 and second.headers["cache-control"] == "no-store"
    replay = portal.http.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert replay.status_code == 401
    dead = portal.http.post("/api/v1/auth/refresh", json={"refresh_token": second.json()["refresh_token"]})
    assert dead.status_code == 401
    log = portal.http.get("/api/v1/me/audit-log", headers=portal.bearer(first["access_token"])).json()["items"]
    assert "token_reuse_detected" in [e["event"] for e in log]


def test_a_citizen_confirms_phone_and_email_then_reaches_level_two(portal, system):
    citizen = portal.register_citizen()
    token = _sign_in(portal, citizen["username"], citizen["password"])["access_token"]
    me = portal.http.get("/api/v1/me", headers=portal.bearer(token)).json()
    assert me["verification_level"] == 0
    early = portal.http.post("/api/v1/auth/verify-identity", headers=portal.bearer(token))
    assert early.status_code == 409
    for channel, destination in (("phone", "0901234567"), ("email", citizen["email"])):
        sent = portal.http.post(f"/api/v1/auth/verify/{channel}", headers=portal.bearer(token))
        assert sent.status_code == 202, sent.text
        assert destination not in sent.text
        code = _wait_code(system, lambda d, want=destination: want in d)
        wrong = portal.http.post(f"/api/v1/auth/verify/{channel}/confirm", headers=portal.bearer(token),
                                 json={"code": "000000" if code != "000000" else "111111"})
        assert wrong.status_code == 422 and wrong.json()["errors"] == {"code": "wrong"}
        ok = portal.http.post(f"/api/v1/auth/verify/{channel}/confirm", headers=portal.bearer(token),
                              json={"code": code})
        assert ok.status_code == 200, ok.text
    assert ok.json()["verification_level"] == 1
    level2 = portal.http.post("/api/v1/auth/verify-identity", headers=portal.bearer(token))
    assert level2.status_code == 200 and level2.json()["verification_level"] == 2
    fresh = _sign_in(portal, citizen["username"], citizen["password"])["access_token"]
    assert jwt.decode(fresh, options={"verify_signature": False})["vl"] == 2


def test_a_representative_acts_for_the_business_only_after_identity_confirms(portal):
    owner = portal.register_citizen("Trần Văn Minh")
    token = _sign_in(portal, owner["username"], owner["password"])["access_token"]
    tax_code = "0318888806-" + f"{uuid.uuid4().int % 900 + 100:03d}"
    reply = portal.http.post("/api/v1/accounts/businesses", headers=portal.bearer(token), json={
        "tax_code": tax_code, "name": "Công ty TNHH Minh Phát",
        "address": "1 Nguyễn Huệ, Phường Sài Gòn"})
    assert reply.status_code == 201, reply.text
    business = reply.json()
    assert business["kind"] == "business"
    mine = portal.http.get("/api/v1/me/representations", headers=portal.bearer(token)).json()["items"]
    assert [(r["account_id"], r["role"]) for r in mine] == [(business["id"], "legal_representative")]
    acting = portal.http.get("/api/v1/me", headers={**portal.bearer(token), "X-Acting-For": business["id"]})
    assert acting.status_code == 200 and acting.json()["acting_for"] == business["id"]
    stranger = portal.register_citizen()
    other = _sign_in(portal, stranger["username"], stranger["password"])["access_token"]
    refused = portal.http.get("/api/v1/me", headers={**portal.bearer(other), "X-Acting-For": business["id"]})
    assert refused.status_code == 403
    # The legal representative authorises the stranger, who may then act for the business.
    added = portal.http.post(f"/api/v1/me/representations/{business['id']}/members", headers=portal.bearer(token),
                             json={"identity_number": stranger["username"], "role": "authorised"})
    assert added.status_code == 201, added.text
    chosen = portal.http.post("/api/v1/me/acting-for", headers=portal.bearer(other),
                              json={"account_id": business["id"]})
    assert chosen.status_code == 200 and chosen.json()["role"] == "authorised"
    # One tax code, one account: a second registration is a 409 that names nobody.
    again = portal.http.post("/api/v1/accounts/businesses", headers=portal.bearer(other), json={
        "tax_code": tax_code, "name": "Công ty Khác", "address": "2 Lê Lợi"})
    assert again.status_code == 409 and again.json()["errors"] == {"tax_code": "already registered"}
    assert "Minh" not in again.text and business["id"] not in again.text


def test_bad_business_and_official_input_names_the_field(portal):
    citizen = portal.register_citizen()
    token = _sign_in(portal, citizen["username"], citizen["password"])["access_token"]
    bad = portal.http.post("/api/v1/accounts/businesses", headers=portal.bearer(token), json={
        "tax_code": "0318888807", "name": "<b>X</b>", "address": "1 Lê Lợi"})
    assert bad.status_code == 422 and set(bad.json()["errors"]) == {"tax_code", "name"}
    official = portal.http.post("/api/v1/accounts/officials", headers=portal.bearer(token), json={
        "username": "ai.do", "full_name": "Ai Đó", "agency_code": "068.00.99.H29", "roles": ["reception"],
        "password": "MatKhau@2026x"})
    assert official.status_code == 403


def test_an_agency_admin_creates_an_official_who_can_sign_in(portal):
    admin = _sign_in(portal, "quantri.saigon", DEMO_PASSWORD)["access_token"]
    agency = jwt.decode(admin, options={"verify_signature": False})["agency"]
    username = f"tiepnhan.{uuid.uuid4().hex[:8]}"
    created = portal.http.post("/api/v1/accounts/officials", headers=portal.bearer(admin), json={
        "username": username, "full_name": "Ngô Thị Yến", "agency_code": agency, "roles": ["reception"],
        "password": "TiepNhan@2026"})
    assert created.status_code == 201, created.text
    claims = jwt.decode(_sign_in(portal, username, "TiepNhan@2026")["access_token"],
                        options={"verify_signature": False})
    assert claims["roles"] == ["reception"] and claims["agency"] == agency
    city_admin_grant = portal.http.post("/api/v1/accounts/officials", headers=portal.bearer(admin), json={
        "username": f"x{uuid.uuid4().hex[:8]}", "full_name": "Ngô Yến", "agency_code": agency,
        "roles": ["city_admin"], "password": "TiepNhan@2026"})
    assert city_admin_grant.status_code == 403


def test_export_holds_my_data_and_no_secrets(portal):
    citizen = portal.register_citizen("Lý Thị Hạnh")
    token = _sign_in(portal, citizen["username"], citizen["password"])["access_token"]
    reply = portal.http.get("/api/v1/me/export", headers=portal.bearer(token))
    assert reply.status_code == 200 and "attachment" in reply.headers["content-disposition"]
    data = reply.json()
    assert data["account"]["identity_number"] == citizen["username"]
    assert data["account"]["full_name"] == "Lý Thị Hạnh"
    assert [e["event"] for e in data["audit_log"]][:2] == ["registered", "login_succeeded"]
    assert "argon2" not in reply.text and "password" not in reply.text


def test_ten_wrong_passwords_block_the_account_with_429_and_retry_after(portal, system):
    citizen = portal.register_citizen()
    # Failures from ten different addresses, as the trusted proxy in front of the gateway reports them
    # (X-Forwarded-For from 127.0.0.1), so only the account is blocked and the other tests sharing this
    # system keep signing in.
    for i in range(10):
        wrong = portal.http.post("/api/v1/auth/token", headers={"X-Forwarded-For": f"192.0.2.{i}"},
                                 json={"username": citizen["username"], "password": f"Sai@mat-khau{i}"})
        assert wrong.status_code == 401
    right = portal.http.post("/api/v1/auth/token", json={"username": citizen["username"],
                                                         "password": citizen["password"]})
    assert right.status_code == 429
    assert 1 <= int(right.headers["retry-after"]) <= 60
    assert right.headers["content-type"].startswith("application/problem+json")


def test_the_address_limit_counts_the_forwarded_address_and_ignores_an_unsigned_one(portal, system):
    citizen = portal.register_citizen()
    for i in range(10):
        wrong = portal.http.post("/api/v1/auth/token", headers={"X-Forwarded-For": "198.51.100.9"},
                                 json={"username": f"nobody{i}@example.vn", "password": "Sai@mat-khau1"})
        assert wrong.status_code == 401
    blocked = portal.http.post("/api/v1/auth/token", headers={"X-Forwarded-For": "198.51.100.9"},
                               json={"username": citizen["username"], "password": citizen["password"]})
    assert blocked.status_code == 429
    elsewhere = portal.http.post("/api/v1/auth/token", headers={"X-Forwarded-For": "198.51.100.10"},
                                 json={"username": citizen["username"], "password": citizen["password"]})
    assert elsewhere.status_code == 200
    # A caller reaching identity directly cannot choose the address it is counted under.
    with grpc.insecure_channel(system.addr("identity")) as channel:
        stub = identity_pb2_grpc.IdentityServiceStub(channel)
        reply = stub.IssueToken(identity_pb2.IssueTokenRequest(username=citizen["username"],
                                                               password=citizen["password"],
                                                               client_address="198.51.100.9"))
        assert reply.access_token


def test_resolve_applicant_needs_a_token_with_the_scope(portal, system):
    citizen = portal.register_citizen("Hồ Văn Tâm")
    person_token = _sign_in(portal, citizen["username"], citizen["password"])["access_token"]
    machine = portal.http.post("/api/v1/auth/token", data={
        "grant_type": "client_credentials", "client_id": DEMO_CLIENT[0], "client_secret": DEMO_CLIENT[1]})
    assert machine.status_code == 200, machine.text
    assert "motcua.applicant.resolve" in machine.json()["scope"]
    bad_secret = portal.http.post("/api/v1/auth/token", data={
        "grant_type": "client_credentials", "client_id": DEMO_CLIENT[0], "client_secret": "wrong"})
    assert bad_secret.status_code == 401
    # A commune system's token is for ResolveApplicant only, never a caller of the REST API.
    as_caller = portal.http.get("/api/v1/me", headers=portal.bearer(machine.json()["access_token"]))
    assert as_caller.status_code == 403 and as_caller.headers["content-type"].startswith("application/problem+json")
    with grpc.insecure_channel(system.addr("identity")) as channel:
        stub = identity_pb2_grpc.IdentityServiceStub(channel)
        request = identity_pb2.ResolveApplicantRequest(identity_number=citizen["username"])
        reply = stub.ResolveApplicant(request, metadata=(("authorization", f"Bearer {machine.json()['access_token']}"),))
        assert reply.account_id == citizen["id"] and reply.kind == identity_pb2.ACCOUNT_KIND_CITIZEN
        assert reply.name_masked == "H* V** Tâm" and reply.verification_level == 0
        for metadata, code in (((), grpc.StatusCode.UNAUTHENTICATED),
                               ((("authorization", f"Bearer {person_token}"),), grpc.StatusCode.PERMISSION_DENIED),
                               ((("authorization", "Bearer forged.token.x"),), grpc.StatusCode.UNAUTHENTICATED)):
            with pytest.raises(grpc.RpcError) as err:
                stub.ResolveApplicant(request, metadata=metadata)
            assert err.value.code() == code
        with pytest.raises(grpc.RpcError) as err:
            stub.ResolveApplicant(identity_pb2.ResolveApplicantRequest(identity_number=new_identity_number()),
                                  metadata=(("authorization", f"Bearer {machine.json()['access_token']}"),))
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
