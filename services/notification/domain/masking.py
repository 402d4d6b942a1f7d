"""Destinations as the dossier log and the API show them: enough to recognise, not to reuse."""

from __future__ import annotations


def mask_phone(phone: str) -> str:
    """0901234123 -> 09*****123."""
    digits = phone.strip()
    if len(digits) <= 5:
        return "*" * len(digits)
    return digits[:2] + "*" * (len(digits) - 5) + digits[-3:]


def mask_email(email: str) -> str:
    """nguyen.van.an@example.vn -> n***@example.vn."""
    local, at, domain = email.strip().partition("@")
    if not at:
        return "***"
    return (local[:1] or "") + "***@" + domain


def mask(channel: str, destination: str) -> str:
    if not destination:
        return ""
    return mask_phone(destination) if channel == "sms" else mask_email(destination)
