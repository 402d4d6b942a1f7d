"""Pick each channel from the settings: a real server when configured, else the dev sink."""

from __future__ import annotations

from pathlib import Path

from services.notification.channels.base import Channel
from services.notification.channels.dev_sinks import FileEmailSink, FileSmsSink
from services.notification.channels.email_smtp import SmtpChannel
from services.notification.channels.sms_brandname import BrandnameSmsChannel
from services.notification.settings import NotificationSettings


def build_channels(settings: NotificationSettings, var_dir: Path) -> dict[str, Channel]:
    outbox = settings.outbox_dir or var_dir / "outbox"
    email: Channel
    sms: Channel
    if settings.smtp_host:
        email = SmtpChannel(host=settings.smtp_host, port=settings.smtp_port, sender=settings.email_from,
                            username=settings.smtp_username, password=settings.smtp_password,
                            starttls=settings.smtp_starttls, tls=settings.smtp_tls,
                            timeout=settings.smtp_timeout_seconds)
    else:
        email = FileEmailSink(outbox, settings.email_from)
    if settings.sms_url:
        sms = BrandnameSmsChannel(url=settings.sms_url, brandname=settings.sms_brandname,
                                  api_key=settings.sms_api_key, timeout=settings.sms_timeout_seconds)
    else:
        sms = FileSmsSink(outbox, settings.sms_brandname)
    return {"email": email, "sms": sms}
