"""Start one service process: logs, migrations, then the async main until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path

import uvloop

from services.platform.db import upgrade_to_head
from services.platform.logging import configure_logging, get_logger
from services.platform.memory import freeze_startup_objects, trim_periodically
from services.platform.settings import platform_settings


def run_service(
    name: str,
    main: Callable[[asyncio.Event], Awaitable[None]],
    *,
    migrations_dir: Path | None = None,
) -> None:
    """``main`` starts the service and returns once ``stop`` is set and it has shut down."""
    settings = platform_settings()
    configure_logging(name, settings.log_level)
    log = get_logger(name)
    if migrations_dir is not None:
        upgrade_to_head(migrations_dir, settings.database_url(name))
        log.info("migrations_applied")

    async def _run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        freeze_startup_objects()
        trimmer = asyncio.create_task(trim_periodically())
        try:
            await main(stop)
        finally:
            trimmer.cancel()

    # uvloop, as the gateway runs under uvicorn: the database driver's and NATS's socket
    # work is a large share of a service's time, and costs less on libuv.
    uvloop.run(_run())
    log.info("stopped")
