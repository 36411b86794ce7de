"""What an attachment is: guessed from Discord's description, decided by its bytes.

Discord's ``content_type`` and the file name are only used *before* downloading, to avoid
fetching what can never be used (a PDF, an archive, audio). What is sent to the model is
decided by the bytes: an image by its format signature (OpenAI's vision guide, "Image input
requirements", accepts PNG, JPEG, WEBP and non-animated GIF), text by the absence of NUL
bytes and by decoding mostly as UTF-8. Everything here is linear in its input and never
raises on any bytes or names.
"""

from __future__ import annotations

import codecs
from pathlib import PurePosixPath

from bot.attachments.kinds import AttachmentRef, Kind

IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/webp", "image/gif"})

_IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".webp", ".gif"})
_TEXT_EXTENSIONS = frozenset({
    ".txt", ".log", ".md", ".rst", ".csv", ".tsv", ".json", ".jsonl", ".ndjson", ".yaml",
    ".yml", ".toml", ".ini", ".cfg", ".conf", ".env", ".properties", ".xml", ".html", ".htm",
    ".css", ".scss", ".svg", ".py", ".pyi", ".js", ".mjs", ".cjs", ".ts", ".tsx", ".jsx",
    ".java", ".kt", ".kts", ".scala", ".go", ".rs", ".c", ".h", ".cc", ".cpp", ".hpp", ".cs",
    ".rb", ".php", ".pl", ".lua", ".swift", ".m", ".r", ".jl", ".dart", ".ex", ".exs", ".erl",
    ".hs", ".clj", ".sh", ".bash", ".zsh", ".fish", ".ps1", ".bat", ".cmd", ".sql", ".graphql",
    ".proto", ".tf", ".hcl", ".gradle", ".diff", ".patch", ".vue", ".svelte", ".lock", ".tex",
    ".srt", ".vtt", ".dockerfile", ".gitignore", ".editorconfig",
})
_TEXT_NAMES = frozenset({
    "dockerfile", "makefile", "procfile", "gemfile", "rakefile", "jenkinsfile", "vagrantfile",
    "license", "readme", "changelog", "requirements.txt", "cmakelists.txt",
})
_BINARY_EXTENSIONS = frozenset({
    ".pdf", ".zip", ".gz", ".tgz", ".tar", ".7z", ".rar", ".bz2", ".xz", ".zst", ".exe",
    ".dll", ".so", ".dylib", ".bin", ".iso", ".dmg", ".apk", ".jar", ".class", ".pyc",
    ".mp3", ".wav", ".ogg", ".flac", ".m4a", ".aac", ".opus", ".mp4", ".mov", ".mkv", ".webm",
    ".avi", ".doc", ".docx", ".xls", ".xlsx", ".ppt", ".pptx", ".odt", ".ods", ".odp",
    ".heic", ".heif", ".bmp", ".tif", ".tiff", ".psd", ".ico", ".woff", ".woff2", ".ttf",
    ".otf", ".sqlite", ".db", ".wasm",
})
_TEXT_APPLICATION_TYPES = frozenset({
    "application/json", "application/xml", "application/yaml", "application/x-yaml",
    "application/toml", "application/javascript", "application/x-javascript",
    "application/ecmascript", "application/x-sh", "application/x-shellscript",
    "application/sql", "application/graphql", "application/x-ndjson", "application/csv",
    "application/x-httpd-php", "application/x-python", "application/x-perl",
    "application/x-ruby", "application/x-tex", "application/x-subrip", "image/svg+xml",
})
_BINARY_TYPE_PREFIXES = ("audio/", "video/", "font/", "image/", "application/vnd.")
_BINARY_TYPES = frozenset({
    "application/pdf", "application/zip", "application/gzip", "application/x-gzip",
    "application/x-tar", "application/x-7z-compressed", "application/x-rar-compressed",
    "application/vnd.rar", "application/x-bzip2", "application/x-xz", "application/zstd",
    "application/java-archive", "application/x-msdownload", "application/x-executable",
    "application/x-mach-binary", "application/msword", "application/wasm",
    "application/x-iso9660-image", "application/x-apple-diskimage", "application/x-sqlite3",
})

_MAX_REPLACED_SHARE = 0.125
"""More undecodable characters than this share of the text, and it is not "mostly" UTF-8."""


def media_type(content_type: str | None) -> str:
    """``"text/plain; charset=utf-8"`` → ``"text/plain"``; empty when there is none."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def expected_kind(ref: AttachmentRef) -> Kind:
    """What the attachment appears to be before download: Discord's type, else the name."""
    declared = media_type(ref.content_type)
    if declared in IMAGE_TYPES:
        return Kind.IMAGE
    if declared.startswith("text/") or declared in _TEXT_APPLICATION_TYPES:
        return Kind.TEXT
    if declared.endswith(("+json", "+xml")):
        return Kind.TEXT
    if declared in _BINARY_TYPES or declared.startswith(_BINARY_TYPE_PREFIXES):
        return Kind.BINARY
    name = PurePosixPath(ref.filename.lower()).name
    suffix = PurePosixPath(name).suffix
    if suffix in _IMAGE_EXTENSIONS:
        return Kind.IMAGE
    if suffix in _TEXT_EXTENSIONS or name in _TEXT_NAMES:
        return Kind.TEXT
    if suffix in _BINARY_EXTENSIONS:
        return Kind.BINARY
    return Kind.UNKNOWN


def sniff_image(data: bytes) -> str | None:
    """The image type by its signature, for the four formats OpenAI accepts."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def _decode(data: bytes, complete: bool) -> str:
    """UTF-8 with undecodable bytes replaced. A download cut at the cap may end inside a
    multi-byte character: that tail is dropped, not counted as undecodable."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    return decoder.decode(data, final=complete).removeprefix("\ufeff")


def looks_like_text(data: bytes, *, complete: bool = True) -> bool:
    """No NUL byte, and most of it decodes as UTF-8 (a Latin-1 log still passes)."""
    if b"\x00" in data:
        return False
    text = _decode(data, complete)
    return text.count("\ufffd") <= len(text) * _MAX_REPLACED_SHARE


def decode_text(data: bytes, max_chars: int, *, complete: bool = True) -> tuple[str, bool]:
    """The text, at most ``max_chars`` characters, and whether anything was left out
    (the download stopped before the end, or the text was longer than the cap)."""
    text = _decode(data, complete).replace("\r\n", "\n")
    if len(text) > max_chars:
        return text[:max_chars], True
    return text, not complete


def text_byte_limit(max_chars: int, max_bytes: int) -> int:
    """The bytes worth downloading for ``max_chars`` characters: UTF-8 needs at most four a
    character, plus the three of a byte-order mark."""
    return min(max_bytes, max_chars * 4 + 4)
