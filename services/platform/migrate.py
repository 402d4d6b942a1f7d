"""Apply services' migrations in a process of their own.

    python -m services.platform.migrate SERVICE [SERVICE ...]

Each service's database is the one its settings name (``MOTCUA_<SERVICE>_DATABASE_URL``,
else the embedded SQLite file). A service migrates before it serves; done in the service's
own process, Alembic with Mako and Pygments and what a migration run leaves behind (some
14 MiB) would stay for the service's whole life and never be used again. Here they leave
with the child. The launcher of the embedded system migrates every service in one such
process while NATS starts, and tells the services so (``MOTCUA_MIGRATE_ON_START=0``); a
service started alone migrates its own database first.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SERVICES_ROOT = Path(__file__).resolve().parents[1]
MIGRATE_ON_START = "MOTCUA_MIGRATE_ON_START"


def migrations_dir(service: str) -> Path:
    return SERVICES_ROOT / service / "store" / "migrations"


def command(*services: str) -> list[str]:
    return [sys.executable, "-m", "services.platform.migrate", *services]


def migrate_on_start(service: str) -> bool:
    """Migrate ``service`` in a child process unless its launcher already has; True if it
    ran. Raises if the migrations fail (the child's stderr is the service's: the reason is
    in the service's log)."""
    if os.environ.get(MIGRATE_ON_START, "1") == "0":
        return False
    subprocess.run(command(service), check=True)
    return True


def main(argv: list[str] | None = None) -> int:
    services = sys.argv[1:] if argv is None else argv
    unknown = [s for s in services if not (migrations_dir(s) / "env.py").is_file()]
    if not services or unknown:
        print("usage: python -m services.platform.migrate SERVICE [SERVICE ...]"
              + (f"\nno migrations for: {', '.join(unknown)}" if unknown else ""), file=sys.stderr)
        return 2
    from services.platform.db import upgrade_to_head
    from services.platform.settings import platform_settings

    for service in services:
        upgrade_to_head(migrations_dir(service), platform_settings().database_url(service))
    return 0


if __name__ == "__main__":
    sys.exit(main())
