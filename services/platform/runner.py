"""Start one service process: logs, migrations, then the async main until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Awaitable, Callable

import uvloop

from services.platform.logging import configure_logging, get_logger
from services.platform.memory import freeze_startup_objects, trim_periodically
from services.platform.migrate import migrate_on_start
from services.platform.settings import platform_settings


def run_service(
    name: str,
    main: Callable[[asyncio.Event], Awaitable[None]],
) -> None:
    """Bring the service's database to its newest schema, then run ``main``: it starts the
    service and returns once ``stop`` is set and it has shut down."""
    settings = platform_settings()
    configure_logging(name, settings.log_level)
    log = get_logger(name)
    if migrate_on_start(name):
        log.info("migrations_applied")

    async def _run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        freeze_startup_objects()
        trimmer = asyncio.create_task(trim_periodically())
        # MOTCUA_<NAME>_PROFILE=<file>: cProfile the event loop thread until stop (benchmarks).
        profile_to = os.environ.get(f"MOTCUA_{name.upper()}_PROFILE", "")
        profiler = None
        if profile_to:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        try:
            await main(stop)
        finally:
            trimmer.cancel()
            if profiler is not None:
                profiler.disable()
                profiler.dump_stats(profile_to)

    # uvloop, as the gateway runs under uvicorn: the database driver's and NATS's socket
    # work is a large share of a service's time, and costs less on libuv.
    uvloop.run(_run())
    log.info("stopped")
