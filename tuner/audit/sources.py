"""Read one path into a :class:`SourceFile`, turning every kind of bad input into an InputError."""

from __future__ import annotations

import errno
import io
import os
import tokenize

from tuner.audit.model import FileKind, InputError, SourceFile

MAX_BYTES = 2 * 1024 * 1024


def _error(path: str, kind: FileKind, message: str, line: int = 1, column: int = 1) -> SourceFile:
    return SourceFile(path=path, kind=kind, error=InputError(message, line, column))


def _os_error(exc: OSError) -> str:
    if exc.errno == errno.ENOENT:
        return "no such file"
    if exc.errno == errno.ELOOP:
        return "symlink loop"
    if exc.errno == errno.EISDIR:
        return "is a directory, not a file"
    if exc.errno == errno.EACCES:
        return "permission denied"
    return f"cannot read: {exc.strerror or exc}"


def _position(data: bytes, offset: int) -> tuple[int, int]:
    line = data.count(b"\n", 0, offset) + 1
    column = offset - (data.rfind(b"\n", 0, offset) + 1) + 1
    return line, column


def is_python(path: str) -> bool:
    return path.endswith((".py", ".pyi"))


def decode(path: str, data: bytes) -> tuple[str | None, InputError | None]:
    """Decode bytes as the reader would see them: PEP 263 cookies for Python, UTF-8 otherwise."""
    nul = data.find(b"\0")
    if nul != -1:
        line, column = _position(data, nul)
        return None, InputError("binary file (NUL byte), not a text config", line, column)
    encoding = "utf-8"
    if is_python(path):
        try:
            encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        except SyntaxError as exc:
            # No usable cookie: say what is wrong with the bytes when they are not UTF-8.
            if b"coding" in data[:200]:
                return None, InputError(f"bad encoding declaration: {exc.msg}", 1, 1)
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        line, column = _position(data, exc.start)
        bad = data[exc.start : exc.start + 1].hex()
        return None, InputError(f"not valid {encoding} text (byte 0x{bad})", line, column)
    except LookupError:
        return None, InputError(f"unknown encoding {encoding!r}", 1, 1)
    return text.removeprefix("\ufeff"), None


def read_source(path: str, data: bytes | None = None) -> SourceFile:
    """Read and parse one file.  Never raises for bad input: the SourceFile carries the error.

    ``data``: the file's bytes when already read (by the walk, or from stdin); ``path`` then only
    names the file and decides its reader."""
    kind: FileKind = "python" if is_python(path) else "text"
    if data is not None:
        if len(data) > MAX_BYTES:
            return _error(path, kind, "file is over 2 MiB; files over 2 MiB are not audited")
        return _parse_bytes(path, data)
    try:
        if os.path.isdir(path):
            return _error(path, kind, "is a directory, not a file (pass the files to audit)")
        size = os.stat(path).st_size
        if size > MAX_BYTES:
            mib = size / (1024 * 1024)
            return _error(path, kind, f"file is {mib:.1f} MiB; files over 2 MiB are not audited")
        with open(path, "rb") as f:
            data = f.read(MAX_BYTES + 1)
    except OSError as exc:
        return _error(path, kind, _os_error(exc))
    return _parse_bytes(path, data)


def _parse_bytes(path: str, data: bytes) -> SourceFile:
    kind: FileKind = "python" if is_python(path) else "text"
    text, problem = decode(path, data)
    if problem is not None or text is None:
        return SourceFile(path=path, kind=kind, error=problem)
    return parse_text(path, text)


def parse_text(path: str, text: str) -> SourceFile:
    """Dispatch decoded text to the reader for its kind."""
    if is_python(path):
        from tuner.audit.readers.python import read_python

        return read_python(path, text)
    from tuner.audit.readers.commands import detect_kind, read_commands

    kind = detect_kind(path, text)
    if kind == "python":
        from tuner.audit.readers.python import read_python

        return read_python(path, text)
    return read_commands(path, text, kind)
