"""A tiny HTTP/1.1 client over an already connected socket (a Unix socket, or a SOCKS stream through tor).

Just enough for the deploy tests: one request at a time, Content-Length bodies, keep-alive.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def all(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key.lower() == name.lower()]


class Connection:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def request(self, method: str, path: str, *, host: str = "localhost", headers: dict[str, str] | None = None,
                body: bytes = b"") -> Response:
        lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Connection: keep-alive"]
        for key, value in (headers or {}).items():
            lines.append(f"{key}: {value}")
        if body or method == "POST":
            lines.append(f"Content-Length: {len(body)}")
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        return self.read_response()

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed before a full response")
        self.buffer += chunk

    def read_response(self) -> Response:
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ")[1])
        headers = []
        for line in header_lines:
            key, _, value = line.partition(":")
            headers.append((key.strip(), value.strip()))
        response = Response(status, headers, b"")
        length = response.header("Content-Length")
        if length is not None:
            while len(self.buffer) < int(length):
                self._fill()
            response.body, self.buffer = self.buffer[: int(length)], self.buffer[int(length):]
        elif (response.header("Transfer-Encoding") or "").lower() == "chunked":
            response.body = self._read_chunked()
        else:  # body until close
            try:
                while True:
                    self._fill()
            except ConnectionError:
                pass
            response.body, self.buffer = self.buffer, b""
        return response

    def _read_chunked(self) -> bytes:
        body = b""
        while True:
            while b"\r\n" not in self.buffer:
                self._fill()
            size_line, self.buffer = self.buffer.split(b"\r\n", 1)
            size = int(size_line.split(b";")[0], 16)
            while len(self.buffer) < size + 2:
                self._fill()
            body += self.buffer[:size]
            self.buffer = self.buffer[size + 2:]
            if size == 0:
                return body
