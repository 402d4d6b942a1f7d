"""Give freed memory back to the operating system.

Start-up work (migrations, seeding, the first imports) frees far more than an idle
service keeps, but glibc holds on to freed heap pages. ``malloc_trim`` returns them, so
an idle process's resident size reflects what it actually uses.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import gc

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


async def trim_periodically(interval: float = 30.0) -> None:
    """Trim shortly after start and then every ``interval`` seconds (a few milliseconds each)."""
    await asyncio.sleep(5.0)
    while True:
        release_free_memory()
        await asyncio.sleep(interval)
