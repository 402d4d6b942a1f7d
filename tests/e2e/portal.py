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
_numbers = itertools.count(1)


def new_identity_number() -> str:
    """A structurally plausible 12-digit number, unique within the test run."""
    return f"0791{95:02d}{(uuid.uuid4().int % 10**5):05d}{next(_numbers) % 10}"


class Portal:
    def __init__(self, base_url: str):
        self.http = httpx.Client(base_url=base_url, timeout=15)

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

    def submit(self, token: str, agency_code: str, *, key: str | None = None, form: dict | None = None):
        headers = self.bearer(token)
        if key:
            headers["Idempotency-Key"] = key
        return self.http.post("/api/v1/dossiers", headers=headers, json={
            "procedure_code": BIRTH_REGISTRATION, "agency_code": agency_code, "form_data": form or {}})

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
