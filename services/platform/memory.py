"""Memory and the garbage collector in a long-running service.

Start-up work (imports, migrations, seeding) leaves two things behind. Freed heap pages
that glibc keeps: ``malloc_trim`` returns them, so an idle process's resident size reflects
what it actually uses. And some hundred thousand long-lived objects (modules, classes,
mappers, compiled protobufs) that every full collection walks again, a 60 ms pause in the
middle of whatever request is running: ``gc.freeze()`` moves them out of the collector's
sight once start-up is done.

A trim (a full collection, then the heap walk) also blocks the event loop, so it runs only
after a quiet spell: under load it would be a latency spike, and a busy process is not the
idle one whose memory the trim is for.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import gc
import time
from collections.abc import Callable

_libc_name = ctypes.util.find_library("c")
try:
    _malloc_trim = ctypes.CDLL(_libc_name).malloc_trim if _libc_name else None
except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to trim
    _malloc_trim = None


def release_free_memory() -> bool:
    """Collect garbage and trim the heap; False where the C library cannot trim."""
    gc.collect()
    if _malloc_trim is None:
        return False
    _malloc_trim(0)
    return True


def freeze_startup_objects() -> None:
    """Collect start-up garbage, then exempt what survived from later full collections."""
    gc.collect()
    gc.freeze()


class IdleTrimmer:
    """Decides, one spell at a time, whether to trim now: a spell is idle when the process
    used less than ``idle_share`` of one core over it, and a trim needs an idle spell and
    ``interval`` seconds since the last one."""

    def __init__(self, *, interval: float = 30.0, idle_share: float = 0.05,
                 cpu: Callable[[], float] = time.process_time, clock: Callable[[], float] = time.monotonic):
        self._interval, self._idle_share = interval, idle_share
        self._cpu, self._clock = cpu, clock
        self._last_cpu, self._last_check = cpu(), clock()
        self._last_trim: float | None = None

    def due(self) -> bool:
        cpu, now = self._cpu(), self._clock()
        spell = max(now - self._last_check, 1e-9)
        idle = (cpu - self._last_cpu) / spell < self._idle_share
        self._last_cpu, self._last_check = cpu, now
        if not idle or (self._last_trim is not None and now - self._last_trim < self._interval):
            return False
        self._last_trim = now
        return True

    def trimmed(self) -> None:
        """The trim's own CPU is not load: the next spell starts after it."""
        self._last_cpu, self._last_check = self._cpu(), self._clock()


async def trim_periodically(interval: float = 30.0, check: float = 5.0, idle_share: float = 0.05) -> None:
    """Every ``check`` seconds, trim if the last spell was idle and ``interval`` has passed.
    The first check also freezes what the service built while starting (pools, caches)."""
    trimmer = IdleTrimmer(interval=interval, idle_share=idle_share)
    await asyncio.sleep(check)
    freeze_startup_objects()
    while True:
        if trimmer.due():
            release_free_memory()
            trimmer.trimmed()
        await asyncio.sleep(check)
