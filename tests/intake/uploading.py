"""Multipart bodies as a browser writes them, for the upload tests (werkzeug's test encoder drops the CRLF
before a boundary that follows an empty part, which no browser does)."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from tests.intake.helpers import csrf_token, valid_fields

Part = tuple[str, str | tuple[str, str, bytes]]


def encode(parts: Iterable[Part], boundary: str | None = None) -> tuple[bytes, str]:
    """The body and its Content-Type: text parts and file parts (name, (filename, type, content))."""
    boundary = boundary or "----IntakeTestBoundary" + secrets.token_hex(8)
    out = bytearray()
    for name, value in parts:
        out += f"--{boundary}\r\n".encode()
        if isinstance(value, tuple):
            filename, claimed, content = value
            quoted = filename.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")
            out += f'Content-Disposition: form-data; name="{name}"; filename="{quoted}"\r\n'.encode()
            out += f"Content-Type: {claimed}\r\n\r\n".encode()
            out += content
        else:
            out += f'Content-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            out += value.encode()
        out += b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"


def form_parts(client: FlaskClient, path: str = "/en/request", **fields: Any) -> list[Part]:
    """A valid request form's text parts, in the page's order (the CSRF and one-time tokens first)."""
    token = csrf_token(client, path)
    values = valid_fields(**fields)
    parts: list[Part] = [("csrf_token", token)]
    for name, value in values.items():
        for one in value if isinstance(value, list) else [value]:
            parts.append((name, str(one)))
    return parts


def post(client: FlaskClient, path: str, parts: Iterable[Part]) -> Any:
    body, content_type = encode(parts)
    return client.post(path, data=body, content_type=content_type)


def files_of(app: Flask) -> list[tuple[bytes, bytes | None, bytes | None, int]]:
    """(id, envelope id, stager, size) of every stored blob."""
    from sqlalchemy import select

    from intake.tables import blobs

    with app.extensions["intake"].storage.reading() as conn:
        return [(bytes(r.id), r.envelope_id and bytes(r.envelope_id), r.stager and bytes(r.stager), int(r.size))
                for r in conn.execute(select(blobs))]  # fmt: skip
