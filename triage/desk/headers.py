"""The desk's security headers as data (the pattern of intake/headers.py and pypi/warehouse ``csp.py``).

The same policy as intake: ``default-src 'none'``, the one inline stylesheet allowed by its hash, forms
post only to this origin, no frames, no script at all, nothing from any other origin. Every page holds
decrypted text, so nothing is cached. (triage may not import intake, so the few lines are repeated
here; tests/triage/test_desk_security.py checks the two agree.)
"""

from __future__ import annotations

import base64
import hashlib

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
