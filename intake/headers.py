"""Security headers as data (after pypi/warehouse ``csp.py``): one dict, serialised in one response hook.

``default-src 'none'`` is the base; each page may only load its own inline style, allowed by hash, and
post forms to this origin. There is no script at all. The Referrer-Policy ``same-origin`` still sends
the Referer to ourselves, which Flask-WTF's strict CSRF check needs over HTTPS.
"""

from __future__ import annotations

import base64
import hashlib

from flask import Flask, Response

PERMISSIONS = ("accelerometer", "autoplay", "camera", "clipboard-read", "clipboard-write", "display-capture",
               "geolocation", "gyroscope", "magnetometer", "microphone", "midi", "payment", "usb",
               "interest-cohort", "browsing-topics")  # fmt: skip


def style_hash(css: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(css.encode("utf-8")).digest()).decode("ascii") + "'"


def content_security_policy(css: str) -> dict[str, list[str]]:
    return {
        "default-src": ["'none'"],
        "style-src": [style_hash(css)],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'none'"],
    }


def serialize_policy(policy: dict[str, list[str]]) -> str:
    return "; ".join(" ".join([name, *sources]) for name, sources in policy.items() if sources)


def security_headers(css: str) -> dict[str, str]:
    return {
        "Content-Security-Policy": serialize_policy(content_security_policy(css)),
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Cache-Control": "no-store, max-age=0",
        "Pragma": "no-cache",
        "Referrer-Policy": "same-origin",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Cross-Origin-Resource-Policy": "same-origin",
        "Cross-Origin-Embedder-Policy": "require-corp",
        "Permissions-Policy": ", ".join(f"{feature}=()" for feature in PERMISSIONS),
    }


def install(app: Flask, css: str) -> None:
    headers = security_headers(css)

    @app.after_request
    def _secure(response: Response) -> Response:
        for name, value in headers.items():
            response.headers[name] = value
        response.headers.pop("Server", None)
        return response
