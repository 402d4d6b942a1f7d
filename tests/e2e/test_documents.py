"""Documents through the gateway: multipart upload streamed to the dossier service, the
type decided by content, download with the right headers, and nobody else's files."""

from __future__ import annotations

import asyncio
import hashlib
import json
from urllib.parse import quote

import jwt
import pytest

from gateway.auth import principal_from_claims
from motcua.v1 import dossier_pb2, dossier_pb2_grpc
from services.platform.grpc_client import make_channel
from services.platform.principal import METADATA_KEY, encode_principal
from services.platform.settings import PlatformSettings
from tests.dossier import documents_samples as samples
from tests.e2e.portal import BIRTH_REGISTRATION, DEMO_OFFICIAL, Portal

pytestmark = pytest.mark.system

CITIZEN = "079090001234"


@pytest.fixture(scope="module")
def portal(system):
    return Portal(system.gateway_url)


@pytest.fixture(scope="module")
def an(portal):
    return portal.bearer(portal.token(CITIZEN))


@pytest.fixture(scope="module")
def stranger(portal):
    other = portal.register_citizen("Lê Văn Cường")
    return portal.bearer(portal.token(other["username"], other["password"]))


def upload(portal, headers, content: bytes, name: str, *, requirement="d1", content_type="application/pdf", key=""):
    if key:
        headers = {**headers, "Idempotency-Key": key}
    return portal.http.post("/api/v1/documents", headers=headers, data={"requirement_id": requirement},
                            files={"file": (name, content, content_type)})


def test_upload_then_download_with_content_type_and_filename(portal, an):
    content = samples.pdf() + b"%" + b"x" * 200_000  # several 64 KiB chunks each way
    reply = upload(portal, an, content, "Giấy chứng sinh.pdf", content_type="application/octet-stream")
    assert reply.status_code == 201, reply.text
    doc = reply.json()
    assert doc["sha256"] == hashlib.sha256(content).hexdigest() and doc["size"] == len(content)
    assert (doc["content_type"], doc["kind"], doc["requirement_id"]) == ("application/pdf", "pdf", "d1")
    assert doc["dossier_code"] is None and reply.headers["location"] == f"/api/v1/documents/{doc['id']}"

    meta = portal.http.get(f"/api/v1/documents/{doc['id']}", headers=an)
    assert meta.status_code == 200 and meta.json()["filename"] == "Giấy chứng sinh.pdf"

    got = portal.http.get(f"/api/v1/documents/{doc['id']}/content", headers=an)
    assert got.status_code == 200 and got.content == content
    assert got.headers["content-type"] == "application/pdf"
    assert got.headers["x-content-type-options"] == "nosniff"
    disposition = got.headers["content-disposition"]
    assert disposition.startswith("attachment;") and f"filename*=UTF-8''{quote('Giấy chứng sinh.pdf')}" in disposition


def test_another_citizen_gets_404_for_metadata_and_content(portal, an, stranger):
    doc = upload(portal, an, samples.png(), "anh.png", content_type="image/png").json()
    for path in (f"/api/v1/documents/{doc['id']}", f"/api/v1/documents/{doc['id']}/content"):
        reply = portal.http.get(path, headers=stranger)
        assert reply.status_code == 404, reply.text
        assert reply.headers["content-type"].startswith("application/problem+json")
    assert portal.http.get(f"/api/v1/documents/{doc['id']}/content").status_code == 401
    assert portal.http.get("/api/v1/documents/00000000-0000-0000-0000-000000000000/content",
                           headers=an).status_code == 404


def test_a_png_called_pdf_and_an_executable_are_refused_in_vietnamese(portal, an):
    reply = upload(portal, an, samples.png(), "giay-to.pdf")
    assert reply.status_code == 422
    assert "không khớp" in reply.json()["detail"] and "PNG" in reply.json()["detail"]
    reply = upload(portal, an, samples.elf(), "giay-to.pdf")
    assert reply.status_code == 422 and "ELF" in reply.json()["detail"]
    reply = upload(portal, an, samples.plain_zip(), "ho-so.zip", content_type="application/zip")
    assert reply.status_code == 422 and "tệp nén" in reply.json()["detail"]


def test_a_file_over_the_limit_is_refused_with_413(portal, an):
    limit = PlatformSettings().document_max_bytes
    reply = upload(portal, an, samples.pdf() + b"0" * limit, "lon.pdf")
    assert reply.status_code == 413, reply.text
    assert reply.headers["content-type"].startswith("application/problem+json")


def test_bad_requests_name_the_problem(portal, an):
    reply = portal.http.post("/api/v1/documents", headers=an, files={"file": ("a.pdf", samples.pdf())})
    assert reply.status_code == 422 and "requirement_id" in reply.json()["errors"]
    reply = portal.http.post("/api/v1/documents", headers={**an, "Content-Type": "multipart/form-data; boundary=b"},
                             content=b'--b\r\nContent-Disposition: form-data; name="requirement_id"\r\n\r\nd1\r\n--b--\r\n')
    assert reply.status_code == 422 and "file" in reply.json()["errors"]
    reply = portal.http.post("/api/v1/documents", headers=an, json={"requirement_id": "d1"})
    assert reply.status_code == 415 and "multipart/form-data" in reply.json()["detail"]
    # requirement_id may also come on the URL when the form cannot put it first
    reply = portal.http.post("/api/v1/documents?requirement_id=d2", headers=an,
                             files={"file": ("a.pdf", samples.pdf(), "application/pdf")})
    assert reply.status_code == 201 and reply.json()["requirement_id"] == "d2"


def test_a_retried_upload_with_the_same_key_is_not_stored_twice(portal, an):
    first = upload(portal, an, samples.pdf(), "don.pdf", key="upload-retry-1")
    again = upload(portal, an, samples.pdf(), "don.pdf", key="upload-retry-1")
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"] and again.headers["idempotent-replayed"] == "true"
    clash = upload(portal, an, samples.png(), "anh.png", key="upload-retry-1")
    assert clash.status_code == 409


def submit_with_documents(system, token: str, agency: str, document_ids: list[str]) -> str:
    """Submits over gRPC as the gateway does, with the uploaded documents attached."""
    principal = principal_from_claims(jwt.decode(token, options={"verify_signature": False}))
    form = {"child_full_name": "Nguyễn Bé Na", "child_sex": "Nữ", "child_date_of_birth": "2026-03-01",
            "place_of_birth": "Bệnh viện Hùng Vương", "requester_relationship": "Cha"}

    async def call() -> str:
        channel = make_channel(system.addr("dossier"), default_timeout=15)
        try:
            reply = await dossier_pb2_grpc.DossierServiceStub(channel).SubmitDossier(
                dossier_pb2.SubmitDossierRequest(
                    procedure_code=BIRTH_REGISTRATION, agency_code=agency, channel=dossier_pb2.CHANNEL_ONLINE,
                    form_data_json=json.dumps(form, ensure_ascii=False), document_ids=document_ids),
                metadata=((METADATA_KEY, encode_principal(principal, system._internal_secret())),))
            return reply.dossier.code
        finally:
            await channel.close()

    return asyncio.run(call())


def test_attached_documents_follow_the_dossiers_visibility(system, portal, an, stranger):
    content = samples.pdf() + b"% giay chung sinh"
    doc = upload(portal, an, content, "giay-chung-sinh.pdf", requirement="d4").json()
    code = submit_with_documents(system, portal.token(CITIZEN), portal.commune_code(), [doc["id"]])

    listed = portal.http.get(f"/api/v1/dossiers/{code}/documents", headers=an)
    assert listed.status_code == 200, listed.text
    [item] = [d for d in listed.json()["items"] if d["id"] == doc["id"]]
    assert (item["dossier_code"], item["version"], item["requirement_id"]) == (code, 1, "d4")

    official = portal.bearer(portal.token(DEMO_OFFICIAL))  # reception of the receiving commune
    got = portal.http.get(f"/api/v1/documents/{doc['id']}/content", headers=official)
    assert got.status_code == 200 and got.content == content
    assert portal.http.get(f"/api/v1/dossiers/{code}/documents", headers=official).status_code == 200
    for path in (f"/api/v1/dossiers/{code}/documents", f"/api/v1/documents/{doc['id']}/content"):
        assert portal.http.get(path, headers=stranger).status_code == 404
