"""Form bodies for ``@rawhttp`` scripts: ``request.form`` and ``request.files``, parsed with
the standard library (no python-multipart in a model environment)."""

from __future__ import annotations

import email.message
import email.parser
import email.policy
import email.utils
import io
import shutil
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qsl

from runyard.scoring.multidict import MultiDict


class FileStorage:
    """One uploaded file, with werkzeug's ``FileStorage`` attributes."""

    def __init__(self, data: bytes, *, name: str, filename: str | None, content_type: str) -> None:
        self.name = name
        self.filename = filename
        self.content_type = content_type
        self.mimetype = content_type.partition(";")[0].strip().lower()
        self.stream: IO[bytes] = io.BytesIO(data)

    def read(self, size: int = -1) -> bytes:
        return self.stream.read(size)

    def save(self, dst: str | Path | IO[bytes], buffer_size: int = 16384) -> None:
        if isinstance(dst, str | Path):
            with open(dst, "wb") as out:
                shutil.copyfileobj(self.stream, out, buffer_size)
        else:
            shutil.copyfileobj(self.stream, dst, buffer_size)

    def __bool__(self) -> bool:
        return bool(self.filename)

    def __repr__(self) -> str:
        return f"<FileStorage: {self.filename!r} ({self.content_type!r})>"


def parse_form(mimetype: str, content_type: str, body: bytes) -> tuple[MultiDict, MultiDict]:
    """``(form, files)`` of a request body; both empty unless it is a form."""
    if mimetype == "application/x-www-form-urlencoded":
        text = body.decode("utf-8", errors="replace")
        return MultiDict(parse_qsl(text, keep_blank_values=True)), MultiDict()
    if mimetype == "multipart/form-data":
        return _multipart(content_type, body)
    return MultiDict(), MultiDict()


def _multipart(content_type: str, body: bytes) -> tuple[MultiDict, MultiDict]:
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    fields: list[tuple[str, Any]] = []
    files: list[tuple[str, Any]] = []
    if not isinstance(message, email.message.EmailMessage) or not message.is_multipart():
        return MultiDict(), MultiDict()
    for part in message.iter_parts():
        name = _param(part, "name")
        if name is None:
            continue
        filename = _param(part, "filename")
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        if filename is None:
            charset = part.get_content_charset() or "utf-8"
            fields.append((name, data.decode(charset, errors="replace")))
        else:
            kind = str(part.get("content-type", "application/octet-stream"))
            files.append((name, FileStorage(data, name=name, filename=filename, content_type=kind)))
    return MultiDict(fields), MultiDict(files)


def _param(part: email.message.Message, name: str) -> str | None:
    value = part.get_param(name, header="content-disposition")
    if value is None:
        return None
    return email.utils.collapse_rfc2231_value(value)  # filename*=UTF-8''...
