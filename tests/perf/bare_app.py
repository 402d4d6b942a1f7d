"""The baseline for bench_gateway.py: a bare FastAPI app with one small JSON endpoint,
served by uvicorn with the same settings as `python -m gateway` (gateway/__main__.py)."""

from __future__ import annotations

import sys

import uvicorn
from fastapi import FastAPI


def create_app() -> FastAPI:
    app = FastAPI()

    @app.get("/ping")
    async def ping():
        return {"status": "ok"}

    return app


def main() -> None:
    port = int(sys.argv[1])
    # Same as gateway/__main__.py: one worker, log_level warning, no access log.
    uvicorn.run("tests.perf.bare_app:create_app", factory=True, host="127.0.0.1", port=port, workers=1,
                log_level="warning", access_log=False, timeout_graceful_shutdown=5)


if __name__ == "__main__":
    main()
