"""A local HTTP receiver that plays a brand-name SMS gateway: it keeps each JSON POST, and
answers with a status the test chooses (200, 400 for a refused number, 503 for a busy gateway)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from services.platform.embedded import free_port


class SmsGateway:
    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        self.status = 200
        self.lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/sms/send"

    def start(self) -> SmsGateway:
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
                with gateway.lock:
                    status = gateway.status
                    if status == 200:
                        gateway.requests.append(body)
                        gateway.headers.append(dict(self.headers))
                reply = json.dumps({"status": "accepted" if status == 200 else "error"}).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def received(self) -> list[dict]:
        with self.lock:
            return list(self.requests)

    def env(self) -> dict[str, str]:
        return {"MOTCUA_NOTIFICATION_SMS_URL": self.url}

    def __enter__(self) -> SmsGateway:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
