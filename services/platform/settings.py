"""Settings shared by every process; each knob has a safe default for `make run`.

Environment variables start with ``MOTCUA_``. A service's database URL is
``MOTCUA_<SERVICE>_DATABASE_URL``; without it the service uses a SQLite file under
``MOTCUA_VAR_DIR``.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[2]


class PlatformSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MOTCUA_", extra="ignore")

    var_dir: Path = REPO_ROOT / "var"
    log_level: str = "INFO"
    nats_url: str = "nats://127.0.0.1:4222"
    # Signs the principal the gateway passes to services; services refuse unsigned callers.
    internal_token_secret: str = "dev-only-internal-secret-change-me"
    identity_addr: str = "127.0.0.1:50051"
    catalogue_addr: str = "127.0.0.1:50052"
    dossier_addr: str = "127.0.0.1:50053"
    notification_addr: str = "127.0.0.1:50054"
    # Default deadline for one gRPC call, in seconds.
    grpc_deadline: float = 5.0
    # Uploaded documents: the largest file accepted, and where the content lives
    # ("filesystem" under ``var_dir``/documents, or "s3" for any S3-compatible store).
    document_max_bytes: int = 20 * 1024 * 1024
    document_transfer_seconds: float = 300.0
    document_storage: str = "filesystem"
    document_dir: Path | None = None
    document_s3_endpoint: str = ""
    document_s3_bucket: str = "motcua-documents"
    document_s3_region: str = "us-east-1"
    document_s3_access_key: str = ""
    document_s3_secret_key: str = ""

    def database_url(self, service: str) -> str:
        url = os.environ.get(f"MOTCUA_{service.upper()}_DATABASE_URL")
        if url:
            return url
        self.var_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite+aiosqlite:///{self.var_dir / f'{service}.db'}"


@lru_cache
def platform_settings() -> PlatformSettings:
    return PlatformSettings()
