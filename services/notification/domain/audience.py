"""Who hears about what, on which channels.

The applicant hears about every step that concerns them; the official a dossier is
assigned to hears about the assignment. Three notices are required by law and reach
the inbox whatever the preferences say: refusal (form 03), the request to supplement
(form 02) and the apology with a new date (form 04, HCMC Decision 5157/QĐ-UBND).
"""

from __future__ import annotations

from dataclasses import dataclass

APPLICANT_EVENTS = frozenset({
    "dossier.submitted", "dossier.accepted", "dossier.supplement_requested", "dossier.supplemented",
    "dossier.refused", "dossier.redirected", "dossier.fees_requested", "dossier.paid", "dossier.approved",
    "dossier.result_ready", "dossier.returned", "dossier.withdrawn", "dossier.stopped", "dossier.extended",
})
ASSIGNEE_EVENTS = frozenset({"dossier.assigned"})
LEGALLY_REQUIRED = frozenset({"dossier.refused", "dossier.supplement_requested", "dossier.extended"})
# Reach the inbox whatever the preferences say: the law's notices and operator alerts.
ALWAYS_INBOX = LEGALLY_REQUIRED | {"alert.dead_letter"}
# Dossier events after which no deadline runs (nothing more to remind anyone of): once
# approved, the processing is done and what remains is handing over the result.
CLOSING_EVENTS = frozenset({"dossier.refused", "dossier.approved", "dossier.returned", "dossier.withdrawn",
                            "dossier.stopped", "dossier.result_ready", "dossier.redirected"})
# The dossier clock stops only while the applicant supplements (status 5); it keeps running
# while fees are awaited, so a fees request does not pause reminders.
PAUSING_EVENTS = frozenset({"dossier.supplement_requested"})
CHANNELS = ("inbox", "email", "sms")
LOCALES = ("vi", "en")


@dataclass(frozen=True)
class Preferences:
    inbox: bool = True
    email: bool = True
    sms: bool = False
    locale: str = ""


@dataclass(frozen=True)
class Contact:
    """What the directory knows of an account (fed by identity events)."""

    account_id: str
    name: str = ""
    email: str = ""
    phone: str = ""
    email_verified: bool = False
    phone_verified: bool = False
    locale: str = "vi"
    kind: str = ""
    agency_code: str = ""
    roles: tuple[str, ...] = ()


def channels_for(event_type: str, prefs: Preferences, contact: Contact | None) -> list[str]:
    """The channels one notice goes on. Email and SMS go only to a verified address (an
    unverified one may be a typo or somebody else's); the inbox needs none. An unknown
    contact (identity's event not here yet) still gets email if chosen: the address, and
    whether it is verified, is looked up when sending."""
    chosen = []
    if prefs.inbox or event_type in ALWAYS_INBOX:
        chosen.append("inbox")
    if prefs.email and (contact is None or (contact.email and contact.email_verified)):
        chosen.append("email")
    if prefs.sms and contact is not None and contact.phone and contact.phone_verified:
        chosen.append("sms")
    return chosen


def locale_for(prefs: Preferences, contact: Contact | None) -> str:
    for locale in (prefs.locale, contact.locale if contact else ""):
        if locale in LOCALES:
            return locale
    return "vi"
