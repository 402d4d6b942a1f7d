"""The type of an uploaded file is decided by its content; executables, archives, macros and
names that lie about the content are refused with a message naming the problem."""

from __future__ import annotations

import pytest

from services.dossier.documents.sniff import identify, ole_stream_names, safe_filename
from services.platform.errors import InvalidInput
from tests.dossier import documents_samples as samples


def check(tmp_path, content: bytes, name: str):
    path = tmp_path / "upload.bin"
    path.write_bytes(content)
    return identify(path, name)


def refused(tmp_path, content: bytes, name: str) -> str:
    with pytest.raises(InvalidInput) as err:
        check(tmp_path, content, name)
    assert err.value.fields.get("file") == err.value.message
    return err.value.message


@pytest.mark.parametrize(("make", "name", "kind", "content_type"), [
    (samples.pdf, "don-de-nghi.pdf", "pdf", "application/pdf"),
    (samples.png, "anh-the.PNG", "png", "image/png"),
    (samples.jpeg, "cccd.jpeg", "jpeg", "image/jpeg"),
    (samples.jpeg, "cccd.jpg", "jpeg", "image/jpeg"),
    (samples.docx, "to-khai.docx", "docx",
     "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    (samples.xlsx, "bang-ke.xlsx", "xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    (samples.odt, "to-khai.odt", "odt", "application/vnd.oasis.opendocument.text"),
    (samples.ods, "bang-ke.ods", "ods", "application/vnd.oasis.opendocument.spreadsheet"),
    (lambda: samples.ole("WordDocument", "\x05SummaryInformation"), "to-khai.doc", "doc", "application/msword"),
    (lambda: samples.ole("Workbook"), "bang-ke.xls", "xls", "application/vnd.ms-excel"),
])
def test_accepted_formats_are_recognised_by_content(tmp_path, make, name, kind, content_type):
    fmt = check(tmp_path, make(), name)
    assert (fmt.kind, fmt.content_type) == (kind, content_type)


def test_a_png_named_pdf_is_refused_naming_the_real_type(tmp_path):
    message = refused(tmp_path, samples.png(), "giay-khai-sinh.pdf")
    assert "“.pdf”" in message and "PNG" in message and "không khớp" in message


def test_a_docx_named_doc_is_refused(tmp_path):
    assert "DOCX" in refused(tmp_path, samples.docx(), "to-khai.doc")


def test_an_xls_named_doc_is_refused(tmp_path):
    assert "XLS" in refused(tmp_path, samples.ole("Workbook"), "to-khai.doc")


def test_a_name_without_extension_is_refused(tmp_path):
    assert "thiếu phần mở rộng" in refused(tmp_path, samples.pdf(), "don")


@pytest.mark.parametrize(("make", "name", "words"), [
    (samples.elf, "giay-to.pdf", "ELF"),
    (samples.pe, "giay-to.pdf", "PE"),
    (samples.pe, "setup.exe", "Windows"),
    (lambda: b"\xcf\xfa\xed\xfe" + b"\x00" * 60, "a.png", "Mach-O"),
    (lambda: b"#!/bin/sh\nrm -rf /\n", "run.pdf", "script"),
    (samples.jar, "app.docx", "JAR"),
])
def test_executables_are_refused_whatever_their_name(tmp_path, make, name, words):
    message = refused(tmp_path, make(), name)
    assert words in message and "không phải tài liệu" in message


@pytest.mark.parametrize(("make", "words"), [
    (samples.plain_zip, "ZIP"),
    (lambda: b"Rar!\x1a\x07\x00" + b"\x00" * 40, "RAR"),
    (lambda: b"7z\xbc\xaf\x27\x1c" + b"\x00" * 40, "7z"),
    (lambda: b"\x1f\x8b\x08\x00" + b"\x00" * 40, "GZIP"),
])
def test_archives_that_are_not_office_documents_are_refused(tmp_path, make, words):
    message = refused(tmp_path, make(), "ho-so.zip")
    assert "tệp nén" in message and words in message


def test_office_files_with_macros_are_refused(tmp_path):
    assert "macro" in refused(tmp_path, samples.docx(macro=True), "to-khai.docx")
    assert "macro" in refused(tmp_path, samples.ole("WordDocument", "Macros"), "to-khai.doc")


def test_other_office_formats_are_named_and_refused(tmp_path):
    assert "PowerPoint" in refused(tmp_path, samples.pptx(), "slide.pptx")
    assert "MSI" in refused(tmp_path, samples.ole("\x05SummaryInformation"), "setup.doc")


def test_text_and_unknown_content_are_refused(tmp_path):
    assert "chỉ nhận PDF" in refused(tmp_path, "Xin chào\n".encode() * 10, "ghi-chu.pdf")


def test_a_truncated_zip_is_refused_as_damaged(tmp_path):
    assert "hỏng" in refused(tmp_path, samples.docx()[:60], "to-khai.docx")


def test_an_empty_file_is_refused(tmp_path):
    assert "rỗng" in refused(tmp_path, b"", "a.pdf")


def test_ole_directory_is_read_through_the_fat(tmp_path):
    path = tmp_path / "f.doc"
    path.write_bytes(samples.ole("WordDocument", "1Table"))
    assert ole_stream_names(path) == {"Root Entry", "WordDocument", "1Table"}


def test_filenames_lose_their_path_and_control_characters():
    assert safe_filename("C:\\Users\\an\\Giấy khai sinh.pdf") == "Giấy khai sinh.pdf"
    assert safe_filename("../../etc/passwd\x00.pdf") == "passwd.pdf"
    assert len(safe_filename("a" * 300 + ".pdf")) == 255 and safe_filename("a" * 300 + ".pdf").endswith(".pdf")
    with pytest.raises(InvalidInput):
        safe_filename("  ")
