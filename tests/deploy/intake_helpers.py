"""Driving a real intake instance from the deployment tests: set it up with the CLI, fill the form over a raw
HTTP connection (CSRF token and cookie as a browser would), export and open what was stored."""

from __future__ import annotations

import html
import re
import subprocess
import sys
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

import crypto
from tests.deploy.rawhttp import Connection, Response
from tests.intake.helpers import opened

INTAKE = str(Path(sys.executable).parent / "intake")
RECEIPT = re.compile(r"(?<!\d)(\d{10}(?:[\s\u00a0]+\d{10}){2})(?!\d)")
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


def run_intake(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([INTAKE, *args], env=env, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        raise AssertionError(f"intake {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done


def set_up_instance(folder: Path, env: dict[str, str], caseworker: crypto.Identity) -> None:
    """`intake init` and `intake recipients add` with the caseworker's public key file."""
    run_intake(["init"], env)
    public_file = folder.parent / f"{caseworker.name}.pub"
    public_file.write_text(caseworker.public.to_text())
    run_intake(["recipients", "add", str(public_file)], env)


def the_request(story: str) -> dict[str, str | list[str]]:
    return {
        "danger": "immediate",
        "threat_from": ["family", "authorities"],
        "location": "chechnya",
        "people": "2",
        "contact_method": "signal",
        "contact": "@someone_safe",
        "story": story,
        "consent": "y",
    }


@dataclass
class Browser:
    """One visitor on one connection: keeps cookies like a browser, sends the CSRF token back."""

    conn: Connection
    host: str
    cookies: dict[str, str] = field(default_factory=dict)

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = dict(extra or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        return headers

    def _remember(self, response: Response) -> Response:
        for value in response.all("Set-Cookie"):
            name, _, rest = value.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        return response

    def get(self, path: str) -> Response:
        return self._remember(self.conn.request("GET", path, host=self.host, headers=self._headers()))

    def post(self, path: str, fields: dict[str, str | list[str]]) -> Response:
        body = urllib.parse.urlencode(fields, doseq=True).encode()
        headers = self._headers({"Content-Type": "application/x-www-form-urlencoded",
                                 "Origin": f"http://{self.host}", "Referer": f"http://{self.host}{path}"})
        return self._remember(self.conn.request("POST", path, host=self.host, headers=headers, body=body))

    def submit(self, story: str, lang: str = "en") -> Response:
        path = f"/{lang}/request"
        form = self.get(path)
        assert form.status == 200, form.status
        token = csrf_token(form.body.decode())
        return self.post(path, {**the_request(story), "csrf_token": token})

    def submit_with_file(self, story: str, name: str, content: bytes, lang: str = "en") -> Response:
        """The form with one file, posted multipart as a browser does (issue 24)."""
        path = f"/{lang}/request"
        form = self.get(path)
        assert form.status == 200, form.status
        fields = {"csrf_token": csrf_token(form.body.decode()), **the_request(story)}
        boundary = "----CrashLoopBoundary7MA4YWxkTrZu0gW"
        body = bytearray()
        for key, value in fields.items():
            for item in value if isinstance(value, list) else [value]:
                body += f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{item}\r\n'.encode()
        body += (f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
                 "Content-Type: application/octet-stream\r\n\r\n").encode()
        body += content + f"\r\n--{boundary}--\r\n".encode()
        headers = self._headers({"Content-Type": f"multipart/form-data; boundary={boundary}",
                                 "Origin": f"http://{self.host}", "Referer": f"http://{self.host}{path}"})
        return self._remember(self.conn.request("POST", path, host=self.host, headers=headers, body=bytes(body)))


def csrf_token(page: str) -> str:
    match = CSRF.search(page)
    assert match, "the form has no CSRF token"
    return html.unescape(match.group(1) or match.group(2))


def receipt_of(page: bytes) -> str:
    match = RECEIPT.search(page.decode())
    assert match, "the receipt page shows no receipt"
    return " ".join(match.group(1).split())


def export_and_open(folder: Path, env: dict[str, str], caseworker: crypto.Identity) -> list[dict[str, object]]:
    """`intake export`, then read the bundle (signature checked against the instance's key) and open all."""
    from intake.config import IntakeConfig
    from intake.instance import Instance

    out = folder.parent / "export.bundle"
    run_intake(["export", "--out", str(out)], env)
    server = Instance(IntakeConfig(instance_dir=folder, database_url=env.get("INTAKE_DATABASE_URL", ""))).server_key()
    bundle = crypto.read_bundle(out, expected_server=server.public)
    entries = list(bundle.entries())
    assert bundle.header.count == len(entries)
    serials = [entry.serial for entry in entries]
    assert serials == sorted(set(serials)), "serials must be unique and increasing"
    assert len({entry.entry_id for entry in entries}) == len(entries)
    return [opened(entry.envelope, caseworker) for entry in entries]
