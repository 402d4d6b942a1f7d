"""The notification service's knobs (``MOTCUA_NOTIFICATION_*``); each default suits `make run`.

Without SMTP or SMS settings, email and SMS go to development sinks: files under
``$MOTCUA_VAR_DIR/outbox/`` (``email/*.eml`` and ``sms.jsonl``).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

from services.notification.domain.delivery import Backoff


class NotificationSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MOTCUA_NOTIFICATION_", extra="ignore")

    # Email over SMTP; empty host = the development sink.
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    smtp_tls: bool = False
    smtp_timeout_seconds: float = 10.0
    email_from: str = "Cổng dịch vụ công <no-reply@motcua.local>"
    # Brand-name SMS gateway (JSON POST); empty URL = the development sink.
    sms_url: str = ""
    sms_api_key: str = ""
    sms_brandname: str = "MOTCUA"
    sms_timeout_seconds: float = 10.0
    # Where the development sinks write; default $MOTCUA_VAR_DIR/outbox.
    outbox_dir: Path | None = None

    # Back-off for temporary failures: first retry, doubling up to the cap, for at least this long.
    retry_first_seconds: float = 60.0
    retry_max_seconds: float = 7200.0
    retry_for_hours: float = 24.0
    # A claimed delivery that is not settled by then (the process died mid-send) is tried again.
    send_lease_seconds: float = 120.0
    # Per-channel rate limits (messages per second) and the worker's idle poll.
    email_per_second: float = 20.0
    sms_per_second: float = 10.0
    worker_poll_seconds: float = 1.0

    # Reminders to officials: "due soon" fires this many clock hours before the dossier's due_at
    # (as DossierStatusChanged carries it; the dossier service already computed it in working
    # time, so this window is plain hours and may reach into a weekend); how often to look.
    reminder_due_soon_hours: float = 24.0
    reminder_interval_seconds: float = 60.0

    # Consumer retries before a message goes to the dead-letter stream.
    max_deliver: int = 5
    # Dossier events handled together in one transaction: at most this many per fetch.
    consumer_batch: int = 100
    # Prometheus metrics on this port (0 = off); the gateway's /metrics covers the gateway only.
    metrics_port: int = 0
    metrics_host: str = "127.0.0.1"

    @property
    def backoff(self) -> Backoff:
        return Backoff(first=self.retry_first_seconds, cap=self.retry_max_seconds,
                       give_up_after=self.retry_for_hours * 3600)


@lru_cache
def notification_settings() -> NotificationSettings:
    return NotificationSettings()
