"""Content sniffing for email attachments: what the bytes are, not what the sender says.

Pure Python, stdlib only. Customers attach screenshots, PDFs of invoices and bank statements; mail
clients label them carelessly (``application/octet-stream``, ``image/jpg``) and attackers label them
deceptively (an ``.exe`` sent as ``application/pdf``). The review console trusts ``detected_type``.
"""

from __future__ import annotations

import io
import re
import zipfile

OCTET_STREAM = "application/octet-stream"

# Detected types whose content can run code when a reviewer opens it. These are never accepted as
# refund evidence, whatever the sender declared.
DANGEROUS_TYPES = frozenset(
    {
        "application/x-msdownload",  # MZ: Windows PE executables, DLLs, .scr, .com stubs
        "application/x-executable",  # ELF
        "application/x-mach-binary",  # Mach-O
        "application/java-vm",  # Java class file (shares CAFEBABE with fat Mach-O)
        "text/x-shellscript",  # "#!" scripts
        "application/x-ms-shortcut",  # .lnk
    }
)

# Extensions Windows (or a double-click elsewhere) will execute even when the content sniffs as
# text, e.g. a .vbs or .js script. Rejected by name, independent of content.
DANGEROUS_EXTENSIONS = frozenset(
    {
        ".exe", ".com", ".scr", ".pif", ".bat", ".cmd", ".msi", ".msp", ".dll", ".cpl",
        ".vbs", ".vbe", ".js", ".jse", ".wsf", ".wsh", ".ps1", ".psm1", ".hta", ".jar",
        ".lnk", ".reg", ".sh", ".app", ".apk", ".iso", ".img", ".vhd", ".vhdx",
    }
)  # fmt: skip

_EXTENSIONS = {
    "application/pdf": ".pdf",
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "image/bmp": ".bmp",
    "image/tiff": ".tif",
    "image/heic": ".heic",
    "application/zip": ".zip",
    "application/gzip": ".gz",
    "application/x-bzip2": ".bz2",
    "application/x-7z-compressed": ".7z",
    "application/vnd.rar": ".rar",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": ".pptx",
    "application/vnd.oasis.opendocument.text": ".odt",
    "application/vnd.oasis.opendocument.spreadsheet": ".ods",
    "application/x-ole-storage": ".doc",
    "application/rtf": ".rtf",
    "text/plain": ".txt",
    "text/html": ".html",
    "text/csv": ".csv",
    "message/rfc822": ".eml",
    "application/x-msdownload": ".exe",
    "application/x-executable": ".bin",
    "text/x-shellscript": ".sh",
}

# Labels mail clients use for the same thing; folded before comparing declared and detected types.
_ALIASES = {
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "image/x-png": "image/png",
    "application/x-pdf": "application/pdf",
    "application/acrobat": "application/pdf",
    "application/x-zip-compressed": "application/zip",
    "application/x-zip": "application/zip",
    "application/x-gzip": "application/gzip",
    "application/gzip-compressed": "application/gzip",
    "application/x-bzip": "application/x-bzip2",
    "application/x-rar-compressed": "application/vnd.rar",
    "application/msword": "application/x-ole-storage",
    "application/vnd.ms-excel": "application/x-ole-storage",
    "application/vnd.ms-powerpoint": "application/x-ole-storage",
    "application/vnd.ms-outlook": "application/x-ole-storage",
    "text/rtf": "application/rtf",
}

# Declared types that say "I don't know"; any content matches them.
_GENERIC_DECLARED = frozenset(
    {
        "",
        OCTET_STREAM,
        "binary/octet-stream",
        "application/binary",
        "application/unknown",
        "application/x-download",
        "application/force-download",
        "application/download",
        "application/x-unknown",
        "unknown/unknown",
    }
)

_ZIP_FAMILY = frozenset(
    {
        "application/zip",
        "application/java-archive",
        "application/epub+zip",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/vnd.oasis.opendocument.text",
        "application/vnd.oasis.opendocument.spreadsheet",
        "application/vnd.oasis.opendocument.presentation",
    }
)

# Text-ish declared types that sniff as text/plain.
_TEXTUAL_DECLARED = frozenset(
    {
        "application/json",
        "application/xml",
        "application/csv",
        "application/x-csv",
        "message/rfc822",
    }
)

_OOXML_DIRS = (
    (b"word/", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    (b"xl/", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    (b"ppt/", "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
)

_HEADER_LINE = re.compile(rb"[!-9;-~]{1,76}:[ \t]?[^\r\n]*\r?\n", re.ASCII)
_MAIL_HEADER_NAMES = (
    b"from:",
    b"received:",
    b"message-id:",
    b"subject:",
    b"date:",
    b"return-path:",
    b"mime-version:",
    b"delivered-to:",
    b"to:",
    b"cc:",
    b"content-type:",
    b"x-mailer:",
    b"reply-to:",
)


def sniff_content_type(data: bytes) -> str:
    """Return the MIME type the bytes really are, from magic numbers; never raises.

    Recognises PDF, PNG, JPEG, GIF, WebP, BMP, TIFF, HEIC, ZIP (and DOCX/XLSX/PPTX/ODF inside it),
    gzip, bzip2, 7z, RAR, OLE2 (legacy Office), RTF, executables (PE, ELF, Mach-O, Java class,
    "#!" scripts, .lnk), RFC 822 messages and plain text. Anything else, including empty content,
    is ``application/octet-stream``.
    """
    try:
        return _sniff(data)
    except Exception:  # a sniffer must never be the reason a message fails to parse
        return OCTET_STREAM


def _sniff(data: bytes) -> str:
    if not data:
        return OCTET_STREAM
    head = data[:64]
    if head.startswith(b"MZ"):
        return "application/x-msdownload"
    if head.startswith(b"\x7fELF"):
        return "application/x-executable"
    if head[:4] in (
        b"\xfe\xed\xfa\xce",
        b"\xfe\xed\xfa\xcf",
        b"\xce\xfa\xed\xfe",
        b"\xcf\xfa\xed\xfe",
    ):
        return "application/x-mach-binary"
    if head.startswith(b"\xca\xfe\xba\xbe"):
        return "application/java-vm"
    if head.startswith(b"#!"):
        return "text/x-shellscript"
    if head.startswith(b"L\x00\x00\x00\x01\x14\x02\x00"):
        return "application/x-ms-shortcut"
    # Acrobat accepts a PDF header anywhere in the first KiB, and so do mail-merged invoices.
    if b"%PDF-" in data[:1024]:
        return "application/pdf"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"BM") and len(data) > 26 and head[6:10] == b"\x00\x00\x00\x00":
        return "image/bmp"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "image/tiff"
    if head[4:8] == b"ftyp" and head[8:12] in (b"heic", b"heix", b"mif1", b"msf1", b"heif"):
        return "image/heic"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")):
        return _sniff_zip(data)
    if head.startswith(b"\x1f\x8b"):
        return "application/gzip"
    if (
        head.startswith(b"BZh")
        and head[3:4].isdigit()
        and head[4:10] in (b"1AY&SY", b"\x17rE8P\x90")
    ):
        return "application/x-bzip2"
    if head.startswith(b"7z\xbc\xaf\x27\x1c"):
        return "application/x-7z-compressed"
    if head.startswith(b"Rar!\x1a\x07"):
        return "application/vnd.rar"
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "application/x-ole-storage"
    if head.startswith(b"{\\rtf"):
        return "application/rtf"
    if _looks_like_message(data):
        return "message/rfc822"
    if _looks_like_text(data):
        return "text/plain"
    return OCTET_STREAM


def _sniff_zip(data: bytes) -> str:
    # ODF stores an uncompressed "mimetype" member first, so its type sits at a fixed offset.
    if data[30:38] == b"mimetype":
        end = data.find(b"PK", 38)
        odf_type = data[38 : end if end != -1 else 38 + 80].decode("ascii", "ignore").strip()
        if odf_type.startswith("application/vnd.oasis.opendocument."):
            return odf_type
        if odf_type == "application/epub+zip":
            return odf_type
    # A truncated or odd archive has no readable central directory; archive_member_names then reads
    # the local file headers at the start, which is where Office writes its folders anyway.
    names = [name.encode("utf-8", "replace") for name in archive_member_names(data)]
    for prefix, mime in _OOXML_DIRS:
        if any(name.startswith(prefix) for name in names):
            return mime
    if any(name.upper() == b"META-INF/MANIFEST.MF" for name in names):
        return "application/java-archive"
    return "application/zip"


def archive_member_names(data: bytes, limit: int = 2000) -> list[str]:
    """Names of the members of a ZIP archive (empty when ``data`` is not one); never raises."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return [info.filename for info in archive.infolist()[:limit]]
    except Exception:
        return [name.decode("utf-8", "replace") for name in _local_header_names(data[:65536])]


def _local_header_names(data: bytes) -> list[bytes]:
    names: list[bytes] = []
    position = data.find(b"PK\x03\x04")
    while position != -1 and len(names) < 200:
        length = int.from_bytes(data[position + 26 : position + 28], "little")
        names.append(data[position + 30 : position + 30 + length])
        position = data.find(b"PK\x03\x04", position + 30 + length)
    return names


def _looks_like_message(data: bytes) -> bool:
    head = data[:4096]
    if head.startswith(b"From ") and b"\n" in head:  # mbox "From " line before the headers
        head = head[head.index(b"\n") + 1 :]
    lines = 0
    named = 0
    position = 0
    while lines < 40:
        match = _HEADER_LINE.match(head, position)
        if not match:
            break
        line = match.group(0).lower()
        if line.startswith(_MAIL_HEADER_NAMES):
            named += 1
        lines += 1
        position = match.end()
        while position < len(head) and head[position : position + 1] in (b" ", b"\t"):
            end = head.find(b"\n", position)
            if end == -1:
                position = len(head)
                break
            position = end + 1
    return lines >= 2 and named >= 2


def _looks_like_text(data: bytes) -> bool:
    sample = data[:8192]
    if sample.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 with a byte-order mark
        return True
    if b"\x00" in sample:
        return False
    try:
        sample.decode("utf-8")
        return True
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the sample's end is still text.
        if exc.start >= len(sample) - 3 and len(data) > len(sample):
            return True
    # Legacy 8-bit text (Latin-1, KOI8-R, ...): almost no C0 control characters besides whitespace,
    # and words separated by spaces. Binary formats without NULs (say, mu-law audio) lack the spaces.
    controls = sum(1 for byte in sample if byte < 32 and byte not in (9, 10, 12, 13, 27))
    spaces = sum(1 for byte in sample if byte in (9, 10, 13, 32))
    return controls <= len(sample) // 100 and spaces * 50 >= len(sample)


def normalize_declared_type(declared: str | None) -> str:
    """Lower-case a declared MIME type and fold the aliases mail clients use."""
    value = (declared or "").strip().lower()
    return _ALIASES.get(value, value)


def types_compatible(declared: str | None, detected: str) -> bool:
    """Whether a declared type is an honest description of content sniffed as ``detected``.

    Generic declarations (octet-stream and friends) and undetectable content match anything; the
    ZIP family matches itself (a DOCX is a ZIP); text declarations match sniffed plain text.
    """
    declared_norm = normalize_declared_type(declared)
    if declared_norm in _GENERIC_DECLARED or detected == OCTET_STREAM:
        return True
    if declared_norm == detected:
        return True
    if declared_norm in _ZIP_FAMILY and detected in _ZIP_FAMILY:
        return True
    if detected in ("text/plain", "message/rfc822") and (
        declared_norm.startswith(("text/", "message/")) or declared_norm in _TEXTUAL_DECLARED
    ):
        return True
    return False


def dangerous_extension(filename: str | None) -> str | None:
    """The executable extension of ``filename`` (e.g. ``.exe`` of ``invoice.pdf.exe``), or None."""
    if not filename:
        return None
    name = filename.strip().rstrip(". ").lower()
    dot = name.rfind(".")
    if dot == -1:
        return None
    extension = name[dot:]
    return extension if extension in DANGEROUS_EXTENSIONS else None


def extension_for_type(content_type: str) -> str:
    """A file extension (with the dot) for a MIME type; ``.bin`` when there is no better one."""
    return _EXTENSIONS.get(normalize_declared_type(content_type), ".bin")
