"""Migrations run in a process of their own: the command brings a service's database to
head, refuses what it does not know, and the services never load Alembic themselves."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys

import pytest

from services.platform import migrate
from services.platform.settings import REPO_ROOT

SERVICES = ("catalogue", "identity", "dossier", "notification")


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=REPO_ROOT, env={**os.environ, **env}, capture_output=True, text=True,
                          timeout=120)


def head_revision(service: str) -> str:
    from alembic.script import ScriptDirectory

    from services.platform.db import alembic_config

    return ScriptDirectory.from_config(alembic_config(migrate.migrations_dir(service), "sqlite://")).get_current_head()


def test_the_command_brings_each_named_database_to_head(tmp_path):
    env = {f"MOTCUA_{s.upper()}_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / s}.db" for s in ("dossier", "identity")}
    done = run(migrate.command("dossier", "identity"), env)
    assert done.returncode == 0, done.stderr
    for service in ("dossier", "identity"):
        with sqlite3.connect(tmp_path / f"{service}.db") as db:
            assert db.execute("SELECT version_num FROM alembic_version").fetchone()[0] == head_revision(service)
    assert not (tmp_path / "catalogue.db").exists()
    again = run(migrate.command("dossier"), env)  # at head: nothing to do, no error
    assert again.returncode == 0, again.stderr


def test_an_unknown_service_is_refused_by_name(tmp_path):
    done = run(migrate.command("dossier", "billing"), {"MOTCUA_VAR_DIR": str(tmp_path)})
    assert done.returncode == 2
    assert "no migrations for: billing" in done.stderr
    assert not (tmp_path / "dossier.db").exists()  # nothing half done


def test_a_service_started_by_a_launcher_that_migrated_does_not_migrate(tmp_path, monkeypatch):
    monkeypatch.setenv("MOTCUA_VAR_DIR", str(tmp_path))
    monkeypatch.setenv(migrate.MIGRATE_ON_START, "0")
    assert migrate.migrate_on_start("dossier") is False
    assert not (tmp_path / "dossier.db").exists()


def test_a_failed_migration_stops_the_service_start(tmp_path, monkeypatch):
    (tmp_path / "dossier.db").write_bytes(b"not a database")
    monkeypatch.setenv("MOTCUA_DOSSIER_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'dossier.db'}")
    monkeypatch.delenv(migrate.MIGRATE_ON_START, raising=False)
    with pytest.raises(subprocess.CalledProcessError):
        migrate.migrate_on_start("dossier")


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_process_does_not_load_alembic(service):
    probe = f"import sys, services.{service}.__main__; print(sorted(m for m in ('alembic', 'mako', 'openpyxl') if m in sys.modules))"
    done = run([sys.executable, "-c", probe], {})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
