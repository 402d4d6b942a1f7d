"""What a file really is, decided by its content: the name and the declared type are
whatever the sender's computer said, so neither is trusted. Only the formats an
administrative dossier needs are accepted (PDF, JPEG, PNG, DOC/DOCX, XLS/XLSX, ODT/ODS);
executables, scripts, archives and macro-bearing office files are refused, and a name
whose extension does not match the content is refused too (a PNG called "giay-to.pdf")."""

from __future__ import annotations

import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

import puremagic

from services.platform.errors import InvalidInput


@dataclass(frozen=True)
class Format:
    kind: str
    content_type: str
    extensions: tuple[str, ...]
    label: str


FORMATS = {f.kind: f for f in (
    Format("pdf", "application/pdf", (".pdf",), "PDF"),
    Format("jpeg", "image/jpeg", (".jpg", ".jpeg"), "JPEG"),
    Format("png", "image/png", (".png",), "PNG"),
    Format("doc", "application/msword", (".doc",), "DOC"),
    Format("docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", (".docx",), "DOCX"),
    Format("xls", "application/vnd.ms-excel", (".xls",), "XLS"),
    Format("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", (".xlsx",), "XLSX"),
    Format("odt", "application/vnd.oasis.opendocument.text", (".odt",), "ODT"),
    Format("ods", "application/vnd.oasis.opendocument.spreadsheet", (".ods",), "ODS"),
)}
ACCEPTED = "PDF, JPEG, PNG, DOC/DOCX, XLS/XLSX, ODT/ODS"
FIELD = "file"

_EXECUTABLE_MAGIC = (
    (b"MZ", "chương trình Windows (PE: .exe, .dll)"),
    (b"\x7fELF", "chương trình Linux (ELF)"),
    (b"\xfe\xed\xfa\xce", "chương trình macOS (Mach-O)"),
    (b"\xfe\xed\xfa\xcf", "chương trình macOS (Mach-O)"),
    (b"\xce\xfa\xed\xfe", "chương trình macOS (Mach-O)"),
    (b"\xcf\xfa\xed\xfe", "chương trình macOS (Mach-O)"),
    (b"\xca\xfe\xba\xbe", "chương trình macOS hoặc Java (Mach-O/class)"),
    (b"#!", "tệp lệnh (script)"),
)
_ARCHIVE_MAGIC = (
    (b"Rar!\x1a\x07", "RAR"),
    (b"7z\xbc\xaf\x27\x1c", "7z"),
    (b"\x1f\x8b", "GZIP"),
    (b"BZh", "BZIP2"),
    (b"\xfd7zXZ\x00", "XZ"),
    (b"\x28\xb5\x2f\xfd", "Zstandard"),
    (b"MSCF", "CAB"),
)
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_EXECUTABLE_EXTENSIONS = {".exe", ".dll", ".com", ".scr", ".msi", ".sys", ".jar", ".class", ".apk", ".elf",
                          ".appimage", ".bat", ".cmd", ".ps1", ".sh", ".vbs", ".js"}
_ARCHIVE_EXTENSIONS = {".zip", ".rar", ".7z", ".gz", ".tgz", ".bz2", ".xz", ".tar", ".cab", ".iso", ".zst"}
HEAD_BYTES = 8192


def safe_filename(name: str) -> str:
    """The last path component, without control characters, at most 255 characters."""
    base = PureWindowsPath(PurePosixPath(name or "").name).name
    cleaned = "".join(ch for ch in base if ch.isprintable()).strip().strip(".")
    if not cleaned:
        raise InvalidInput("Thiếu tên tệp.", fields={"filename": "required"})
    if len(cleaned) > 255:
        stem, dot, ext = cleaned.rpartition(".")
        cleaned = (stem[: 255 - len(ext) - 1] + dot + ext) if dot and len(ext) <= 10 else cleaned[:255]
    return cleaned


def _refuse(message: str) -> InvalidInput:
    return InvalidInput(message, fields={FIELD: message})


def identify(path: Path, filename: str) -> Format:
    """The accepted format of the file at ``path``, or InvalidInput saying what is wrong."""
    with open(path, "rb") as f:
        head = f.read(HEAD_BYTES)
    if not head:
        raise _refuse(f"Tệp “{filename}” rỗng.")
    fmt = _by_content(path, head, filename)
    _check_extension(fmt, filename)
    return fmt


def _by_content(path: Path, head: bytes, filename: str) -> Format:
    for magic, what in _EXECUTABLE_MAGIC:
        if head.startswith(magic):
            raise _refuse(f"Tệp “{filename}” là {what}, không phải tài liệu; chỉ nhận {ACCEPTED}.")
    if b"%PDF-" in head[:1024]:
        return FORMATS["pdf"]
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return FORMATS["png"]
    if head.startswith(b"\xff\xd8\xff"):
        return FORMATS["jpeg"]
    if head.startswith(_OLE_MAGIC):
        return _ole_format(path, filename)
    if head.startswith(_ZIP_MAGIC):
        return _zip_format(path, filename)
    for magic, what in _ARCHIVE_MAGIC:
        if head.startswith(magic):
            raise _archive(filename, what)
    if len(head) > 262 and head[257:262] == b"ustar":
        raise _archive(filename, "TAR")
    return _by_puremagic(head, filename)


def _archive(filename: str, what: str) -> InvalidInput:
    return _refuse(f"Tệp “{filename}” là tệp nén {what}, không phải tài liệu; hãy tải lên từng tài liệu "
                   f"({ACCEPTED}).")


def _macro(filename: str) -> InvalidInput:
    return _refuse(f"Tệp “{filename}” có chứa macro (VBA); hãy lưu lại thành tệp không có macro hoặc PDF.")


def _unsupported(filename: str, label: str) -> InvalidInput:
    return _refuse(f"Định dạng {label} của tệp “{filename}” không được chấp nhận; chỉ nhận {ACCEPTED}.")


def _by_puremagic(head: bytes, filename: str) -> Format:
    try:
        matches = puremagic.magic_string(head)
    except puremagic.PureError:
        matches = []
    for match in matches:
        ext = match.extension.lower()
        if ext in _EXECUTABLE_EXTENSIONS:
            raise _refuse(f"Tệp “{filename}” là chương trình thực thi ({match.name}), không phải tài liệu; "
                          f"chỉ nhận {ACCEPTED}.")
        if ext in _ARCHIVE_EXTENSIONS:
            raise _archive(filename, match.name)
    if matches:
        raise _unsupported(filename, matches[0].name)
    raise _refuse(f"Không nhận ra định dạng của tệp “{filename}”; chỉ nhận {ACCEPTED}.")


def _zip_format(path: Path, filename: str) -> Format:
    """OOXML (DOCX/XLSX) and OpenDocument (ODT/ODS) are zip files with a known layout;
    any other zip is an archive."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            mimetype = b""
            if "mimetype" in names and archive.getinfo("mimetype").file_size <= 200:
                mimetype = archive.read("mimetype").strip()
    # zipfile raises NotImplementedError for a compression method it cannot read: such a
    # file is refused as not an office document, like any other unreadable archive.
    except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError) as exc:
        raise _refuse(f"Tệp “{filename}” là tệp nén ZIP bị hỏng hoặc không đọc được.") from exc
    lowered = {n.lower() for n in names}
    if any(n.endswith("vbaproject.bin") for n in lowered):
        raise _macro(filename)
    if mimetype.startswith(b"application/vnd.oasis.opendocument."):
        if mimetype == FORMATS["odt"].content_type.encode():
            return FORMATS["odt"]
        if mimetype == FORMATS["ods"].content_type.encode():
            return FORMATS["ods"]
        raise _unsupported(filename, "OpenDocument " + mimetype.decode("ascii", "replace").rsplit(".", 1)[-1])
    if "[Content_Types].xml" in names:
        if "word/document.xml" in names:
            return FORMATS["docx"]
        if "xl/workbook.xml" in names:
            return FORMATS["xlsx"]
        if "ppt/presentation.xml" in names:
            raise _unsupported(filename, "PowerPoint (PPTX)")
        raise _unsupported(filename, "Office Open XML")
    if "meta-inf/manifest.mf" in lowered or any(n.endswith(".class") for n in lowered) or \
            "androidmanifest.xml" in lowered:
        raise _refuse(f"Tệp “{filename}” là chương trình Java/Android (JAR/APK), không phải tài liệu; "
                      f"chỉ nhận {ACCEPTED}.")
    raise _archive(filename, "ZIP")


def _ole_format(path: Path, filename: str) -> Format:
    """The legacy binary formats (DOC, XLS, but also MSI installers and PPT) share the OLE
    container; the names of the streams inside tell them apart."""
    try:
        names = ole_stream_names(path)
    except (ValueError, struct.error, OSError) as exc:
        raise _refuse(f"Tệp “{filename}” là tệp Office cũ bị hỏng hoặc không đọc được.") from exc
    if "Macros" in names or "_VBA_PROJECT_CUR" in names or "_VBA_PROJECT" in names:
        raise _macro(filename)
    if "WordDocument" in names:
        return FORMATS["doc"]
    if "Workbook" in names or "Book" in names:
        return FORMATS["xls"]
    if "PowerPoint Document" in names:
        raise _unsupported(filename, "PowerPoint (PPT)")
    raise _unsupported(filename, "OLE (có thể là bộ cài đặt MSI)")


_FREE = 0xFFFFFFFF
_END = 0xFFFFFFFE
_MAX_SECTORS = 1 << 20


def ole_stream_names(path: Path) -> set[str]:
    """Names of the entries in an OLE compound file's directory (MS-CFB), read by
    following the directory's sector chain through the FAT."""
    with open(path, "rb") as f:
        header = f.read(512)
        if len(header) < 512 or not header.startswith(_OLE_MAGIC):
            raise ValueError("not an OLE file")
        shift = struct.unpack_from("<H", header, 30)[0]
        if shift not in (9, 12):
            raise ValueError("bad sector size")
        size = 1 << shift

        def sector(n: int) -> bytes:
            f.seek((n + 1) * size)
            data = f.read(size)
            if len(data) != size:
                raise ValueError("truncated")
            return data

        first_dir, = struct.unpack_from("<I", header, 48)
        difat_next, difat_count = struct.unpack_from("<II", header, 68)
        fat_sectors = [s for s in struct.unpack_from("<109I", header, 76) if s < 0xFFFFFFFA]
        seen = 0
        while difat_next < 0xFFFFFFFA and seen < difat_count + 1:
            entries = struct.unpack(f"<{size // 4}I", sector(difat_next))
            fat_sectors += [s for s in entries[:-1] if s < 0xFFFFFFFA]
            difat_next = entries[-1]
            seen += 1
        fat: list[int] = []
        for s in fat_sectors[: _MAX_SECTORS // (size // 4) + 1]:
            fat.extend(struct.unpack(f"<{size // 4}I", sector(s)))
        names: set[str] = set()
        current, visited = first_dir, set()
        while current < 0xFFFFFFFA and current not in visited and len(visited) < _MAX_SECTORS:
            visited.add(current)
            data = sector(current)
            for off in range(0, size, 128):
                entry = data[off:off + 128]
                length = struct.unpack_from("<H", entry, 64)[0]
                if entry[66] in (1, 2, 5) and 2 <= length <= 64:
                    names.add(entry[: length - 2].decode("utf-16-le", "replace"))
            if current >= len(fat):
                raise ValueError("directory chain outside the FAT")
            current = fat[current]
        return names


def _check_extension(fmt: Format, filename: str) -> None:
    suffix = PurePosixPath(filename).suffix.lower()
    if suffix in fmt.extensions:
        return
    if not suffix:
        raise _refuse(f"Tên tệp “{filename}” thiếu phần mở rộng; tệp này là {fmt.label}, "
                      f"hãy đặt tên có đuôi {fmt.extensions[0]}.")
    raise _refuse(f"Phần mở rộng “{suffix}” của tệp “{filename}” không khớp với nội dung: tệp thực chất là "
                  f"{fmt.label}; hãy đổi đuôi thành {fmt.extensions[0]} hoặc chọn đúng tệp.")
