"""JSON logs with the request id, and personal numbers masked in every line.

The gateway gives each request an id; gRPC metadata and NATS headers carry it, and
every service binds it to structlog's context, so one grep follows a request.
"""

from __future__ import annotations

import logging
import re
import sys
import uuid
from contextvars import ContextVar

import structlog

request_id_var: ContextVar[str] = ContextVar("request_id", default="")

# 9-13 digit runs are citizen ids, tax codes or phone numbers: keep the last 3 digits only.
_PERSONAL_NUMBER = re.compile(r"(?<!\d)(\+?\d)(\d{5,9})(\d{3})(?!\d)")


def mask_personal_numbers(text: str) -> str:
    return _PERSONAL_NUMBER.sub(lambda m: "*" * (len(m.group(0)) - 3) + m.group(3), text)


# An email address keeps the first letter of its local part and its domain: an.nguyen@x.vn -> a*******@x.vn.
_EMAIL = re.compile(r"([A-Za-z0-9._%+-])([A-Za-z0-9._%+-]*)@([A-Za-z0-9.-]+\.[A-Za-z]{2,})")


def mask_emails(text: str) -> str:
    return _EMAIL.sub(lambda m: f"{m.group(1)}{'*' * len(m.group(2))}@{m.group(3)}", text)


def mask_personal_data(text: str) -> str:
    """Personal numbers and email addresses, as every log line masks them."""
    return mask_personal_numbers(mask_emails(text))


def _mask(value):
    if isinstance(value, str):
        return mask_personal_data(value)
    if isinstance(value, dict):
        return {k: _mask(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_mask(v) for v in value]
    return value


# Identifiers we generate carry no personal data; masking their digits would break the grep.
_UNMASKED = frozenset({"request_id", "event_id", "timestamp"})


def _mask_processor(_logger, _name, event_dict):
    return {k: v if k in _UNMASKED else _mask(v) for k, v in event_dict.items()}


def _add_request_id(_logger, _name, event_dict):
    rid = request_id_var.get()
    if rid and "request_id" not in event_dict:
        event_dict["request_id"] = rid
    return event_dict


def configure_logging(service: str, level: str = "INFO") -> None:
    logging.basicConfig(format="%(message)s", stream=sys.stderr, level=level.upper())
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            _add_request_id,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            _mask_processor,
            structlog.processors.JSONRenderer(ensure_ascii=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service)


def new_request_id() -> str:
    return uuid.uuid4().hex


get_logger = structlog.get_logger
