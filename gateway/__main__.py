"""python -m gateway: the portal and public REST API on port 8000."""

from __future__ import annotations

import uvicorn

from gateway.settings import gateway_settings
from services.platform.logging import configure_logging
from services.platform.settings import platform_settings


def main() -> None:
    configure_logging("gateway", platform_settings().log_level)
    gw = gateway_settings()
    uvicorn.run("gateway.app:create_app", factory=True, host=gw.host, port=gw.port, workers=gw.workers,
                log_level="warning", access_log=False, timeout_graceful_shutdown=5,
                proxy_headers=True, forwarded_allow_ips=gw.forwarded_allow_ips)


if __name__ == "__main__":
    main()
