"""A small client of the public REST API, as a citizen's or an official's app would use it."""

from __future__ import annotations

import itertools
import time
import uuid

import httpx

DEMO_PASSWORD = "MotCua@2026"
DEMO_OFFICIAL = "tiepnhan.saigon"
DEMO_COMMUNE = "Phường Sài Gòn"
BIRTH_REGISTRATION = "1.001193"
# A valid birth-registration e-form (the demo catalogue's schema).
BIRTH_FORM = {"child_full_name": "Nguyễn Bé Na", "child_sex": "Nữ", "child_date_of_birth": "2026-03-01",
              "place_of_birth": "Bệnh viện Từ Dũ, Thành phố Hồ Chí Minh", "requester_relationship": "Mẹ"}
# The smallest well-formed PDF: what the document checks accept as a scanned paper.
SAMPLE_PDF = (b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n2 0 obj\n<< /Type /Pages /Kids [] "
              b"/Count 0 >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n")
_numbers = itertools.count(1)


def new_identity_number() -> str:
    """A structurally plausible 12-digit number, unique within the test run."""
    return f"0791{95:02d}{(uuid.uuid4().int % 10**5):05d}{next(_numbers) % 10}"


class Portal:
    def __init__(self, base_url: str):
        self.http = httpx.Client(base_url=base_url, timeout=15)
        self._mandatory: dict[str, list[str]] = {}

    def register_citizen(self, name: str = "Phạm Thị Dung", password: str = "MatKhau@12345") -> dict:
        number = new_identity_number()
        reply = self.http.post("/api/v1/accounts", json={
            "identity_number": number, "full_name": name, "date_of_birth": "1995-03-04",
            "email": f"{number}@example.vn", "phone": "0901234567", "password": password})
        assert reply.status_code == 201, reply.text
        return {"username": number, "password": password, **reply.json()}

    def token(self, username: str, password: str = DEMO_PASSWORD) -> str:
        deadline = time.monotonic() + 20  # demo accounts load just after start
        while True:
            reply = self.http.post("/api/v1/auth/token", json={"username": username, "password": password})
            if reply.status_code == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert reply.status_code == 200, reply.text
        return reply.json()["access_token"]

    @staticmethod
    def bearer(token: str) -> dict:
        return {"Authorization": f"Bearer {token}"}

    def commune_code(self, name: str = DEMO_COMMUNE) -> str:
        reply = self.http.get("/api/v1/agencies", params={"kind": "commune"})
        assert reply.status_code == 200, reply.text
        return next(a["code"] for a in reply.json()["items"] if a["name"] == name)

    def submit(self, token: str, agency_code: str, *, key: str | None = None, form: dict | None = None,
               document_ids: list[str] | None = None):
        """Files a birth registration; by default with a valid e-form and every mandatory
        document uploaded first (uploads are keyed by ``key`` so a retry attaches the same)."""
        headers = self.bearer(token)
        if key:
            headers["Idempotency-Key"] = key
        if document_ids is None:
            document_ids = self.upload_mandatory(token, BIRTH_REGISTRATION, key=key)
        return self.http.post("/api/v1/dossiers", headers=headers, json={
            "procedure_code": BIRTH_REGISTRATION, "agency_code": agency_code,
            "form_data": BIRTH_FORM if form is None else form, "document_ids": document_ids})

    def upload(self, token: str, requirement_id: str, *, content: bytes = SAMPLE_PDF, filename: str = "giay-to.pdf",
               key: str | None = None) -> str:
        headers = self.bearer(token)
        if key:
            headers["Idempotency-Key"] = key
        reply = self.http.post("/api/v1/documents", headers=headers, data={"requirement_id": requirement_id},
                               files={"file": (filename, content, "application/pdf")})
        assert reply.status_code == 201, reply.text
        return reply.json()["id"]

    def upload_mandatory(self, token: str, procedure_code: str, *, key: str | None = None) -> list[str]:
        if procedure_code not in self._mandatory:
            reply = self.http.get(f"/api/v1/procedures/{procedure_code}")
            assert reply.status_code == 200, reply.text
            self._mandatory[procedure_code] = [d["id"] for d in reply.json().get("documents", []) if d.get("mandatory")]
        return [self.upload(token, rid, key=f"{key}:{rid}" if key else None) for rid in self._mandatory[procedure_code]]

    def act(self, token: str, code: str, action: str, **body):
        return self.http.post(f"/api/v1/work/dossiers/{code}/actions/{action}", headers=self.bearer(token), json=body)

    def notifications(self, token: str) -> list[dict]:
        reply = self.http.get("/api/v1/me/notifications", headers=self.bearer(token), params={"page_size": 100})
        assert reply.status_code == 200, reply.text
        return reply.json()["items"]

    def wait_notifications(self, token: str, predicate, timeout: float = 20) -> list[dict]:
        deadline = time.monotonic() + timeout
        while True:
            items = self.notifications(token)
            if predicate(items) or time.monotonic() > deadline:
                return items
            time.sleep(0.2)
