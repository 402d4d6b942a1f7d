"""Templates: every kind renders on every channel in both locales; the apology letter says
what Ho Chi Minh City's rule requires; a notice names the template version behind it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from motcua.v1 import events_pb2
from services.notification.domain.context import dossier_context, sample_context
from services.notification.domain.templates import TemplateRegistry, UnknownTemplate, fold_to_ascii

REGISTRY = TemplateRegistry()


def extension_event() -> events_pb2.DossierStatusChanged:
    event = events_pb2.DossierStatusChanged(
        dossier_code="000.00.01.H29-260903-0007", applicant_id="a1", procedure_name="Đăng ký khai sinh",
        agency_code="000.00.01.H29", status="Đang xử lý", reason="Chờ kết quả xác minh của Công an phường",
        receipt_number="000.00.01.H29-260903-0007", applicant_name="Trần Thị Bích")
    event.due_at.FromDatetime(datetime(2026, 9, 4, 3, 0, tzinfo=UTC))
    event.new_due_at.FromDatetime(datetime(2026, 9, 10, 17, 30, tzinfo=UTC))  # 00:30 on the 11th in Vietnam
    return event


def test_every_kind_renders_on_every_channel_in_both_locales():
    kinds = REGISTRY.kinds("vi")
    assert kinds == REGISTRY.kinds("en")
    assert {"dossier.accepted", "dossier.extended", "reminder.overdue", "one_time_code"} <= set(kinds)
    for locale in ("vi", "en"):
        for kind in kinds:
            for channel in ("inbox", "email", "sms"):
                rendered = REGISTRY.render(kind, channel, locale, sample_context(kind))
                assert rendered.body, (kind, channel, locale)
                assert rendered.ref == f"{locale}/{kind}@v1#{channel}"
                if channel != "sms":
                    assert rendered.title


@pytest.mark.parametrize("channel", ["inbox", "email", "sms"])
def test_the_apology_letter_names_applicant_dossier_receipt_status_reason_and_new_date(channel):
    rendered = REGISTRY.render("dossier.extended", channel, "vi", dossier_context(extension_event()))
    text = rendered.body if channel != "sms" else rendered.body
    expected = ["Trần Thị Bích", "000.00.01.H29-260903-0007", "Đang xử lý", "Chờ kết quả xác minh của Công an phường",
                "11/09/2026"]
    if channel == "sms":
        expected = [fold_to_ascii(e) for e in expected]
    for part in expected:
        assert part in text, (part, text)
    if channel == "email":
        assert "Số biên nhận: 000.00.01.H29-260903-0007" in text
        assert "Ngày hẹn trả kết quả mới: 11/09/2026" in text
        assert rendered.title == "Thư xin lỗi và hẹn lại ngày trả kết quả"


def test_the_apology_in_english():
    rendered = REGISTRY.render("dossier.extended", "email", "en", dossier_context(extension_event()))
    assert rendered.title == "Apology and new date for your result"
    assert "Receipt number: 000.00.01.H29-260903-0007" in rendered.body
    assert "New date for the result: 11/09/2026" in rendered.body
    assert "Reason for the delay: Chờ kết quả xác minh" in rendered.body


def test_sms_text_has_no_diacritics():
    rendered = REGISTRY.render("dossier.refused", "sms", "vi", {**sample_context("dossier.refused"),
                                                              "reason": "Thiếu giấy chứng sinh"})
    assert rendered.body.isascii()
    assert "Ly do: Thieu giay chung sinh." in rendered.body


def test_a_new_version_renders_new_notices_and_the_old_one_stays_addressable(tmp_path):
    (tmp_path / "vi").mkdir()
    body = "{% block title %}T{{ n }}{% endblock %}{% block inbox %}v{{ n }}{% endblock %}" \
           "{% block email %}e{% endblock %}{% block sms %}s{% endblock %}"
    (tmp_path / "vi" / "dossier.accepted.v1.j2").write_text(body.replace("v{{ n }}", "old {{ n }}"))
    (tmp_path / "vi" / "dossier.accepted.v2.j2").write_text(body.replace("v{{ n }}", "new {{ n }}"))
    registry = TemplateRegistry(tmp_path)
    rendered = registry.render("dossier.accepted", "inbox", "vi", {"n": 1})
    assert (rendered.body, rendered.ref) == ("new 1", "vi/dossier.accepted@v2#inbox")
    assert registry.render("dossier.accepted", "inbox", "vi", {"n": 1}, version=1).body == "old 1"
    # No English file: the Vietnamese one speaks.
    assert registry.render("dossier.accepted", "inbox", "en", {"n": 1}).ref == "vi/dossier.accepted@v2#inbox"


def test_an_unknown_kind_or_channel_is_refused():
    with pytest.raises(UnknownTemplate):
        REGISTRY.render("dossier.nonexistent", "inbox", "vi", {})
    with pytest.raises(UnknownTemplate):
        REGISTRY.render("dossier.accepted", "fax", "vi", sample_context("dossier.accepted"))
