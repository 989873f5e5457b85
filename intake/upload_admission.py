"""What ``CircuitWorker`` does with a request whose head is in: uploads and the order of waiting requests.

Two decisions the event loop makes on bytes already in memory, before a thread is spent (a mixin of
``intake.circuit_worker.CircuitWorker``, which holds the state):

* **an upload** (``intake.upload_stream.is_upload``) is refused at once (411, 413, over the worker's uploads
  at once: 503, each with a page saying nothing was sent) or given a thread at once, its body to be streamed
  to the app under the upload's rate and cap. A second upload from a circuit that has one in progress waits
  (head read, body not) up to ``SECOND_UPLOAD_WAIT_SECONDS`` for the first to end, then gets 429: a second
  tap on a slow connection makes the browser drop the first and send again, and the worker may see the new
  stream's head before the thread reading the old one has seen it close;
* **a complete POST with a live CSRF token** (``intake.priority``) waits in front of other requests when
  every thread is busy.

The rules come from the app's config (its upload settings); uploads take at most half a worker's threads,
whatever the setting says, so text requests always keep the other half.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

from intake.config import LANGUAGES
from intake.priority import carries_valid_token, token_checker
from intake.request_buffer import HeadFacts
from intake.upload_stream import UploadRules, upload_refusal

SECOND_UPLOAD_WAIT_SECONDS = 5.0


class UploadAdmission:
    """Mixin for ``CircuitWorker`` (its ``cfg``, ``wsgi``, ``_config``, ``_refuse``, ``_unwatch``, ``_dispatch``)."""

    cfg: Any
    wsgi: Any
    _CONN_ATTRIBUTE: str
    _uploads: dict[str, Any]
    _held: dict[str, tuple[Any, Any, HeadFacts, float]]  # circuit -> its second upload, waiting for the first
    _checker: Any
    _config: Any
    _refuse: Any
    _unwatch: Any
    _dispatch: Any

    def _upload_rules(self) -> UploadRules:
        config = self._config()
        if config is None:
            return UploadRules(at_once=min(UploadRules.at_once, max(1, self.cfg.threads // 2)))
        # At most half the threads: text requests always keep the other half.
        return UploadRules(config.upload_min_rate, config.upload_window, config.upload_max_bytes,
                           min(config.uploads_at_once, max(1, self.cfg.threads // 2)))  # fmt: skip

    def _languages(self) -> tuple[str, ...]:
        config = self._config()
        return config.languages if config else LANGUAGES

    def _token_check(self) -> Any:
        """The app's CSRF check (intake.priority), or None when the app is not intake."""
        if self._checker is None:
            state = getattr(getattr(self.wsgi, "intake_app", None), "extensions", {}).get("intake")
            key = getattr(state, "csrf_key", None)
            config = getattr(state, "config", None)
            self._checker = token_checker(key, config.csrf_hours * 60) if key and config else False
        return self._checker or None

    def _valid_post(self, conn: Any, pending: Any) -> bool:
        """Whether this complete request is a POST with a live CSRF token (checked only when it will wait)."""
        check = self._token_check()
        facts = pending.facts
        if check is None or facts is None or facts.method != b"POST":
            return False
        body = conn.intake_request[pending.body_start : pending.end]
        return carries_valid_token(facts.method, facts.cookie, facts.content_type, body, check)

    def _start_upload(self, conn: Any, pending: Any, facts: HeadFacts) -> None:
        """An upload's head is in: refuse it at once, or give it a thread to stream its body to the app."""
        rules = self._upload_rules()
        circuit = getattr(conn, self._CONN_ATTRIBUTE)
        refusal = upload_refusal(facts.content_length, facts.transfer_encoding, rules)
        if refusal is None and circuit in self._uploads:
            if circuit not in self._held:
                self._unwatch(conn)  # its body stays in the socket until the first upload ends
                self._held[circuit] = (conn, pending, facts, time.monotonic() + SECOND_UPLOAD_WAIT_SECONDS)
                return
            refusal = 429, "a second upload from one circuit"
        if refusal is None and len(self._uploads) >= rules.at_once:
            refusal = 503, "an upload over the worker's uploads at once"
        if refusal is not None:
            self._refuse(conn, refusal[0], refusal[1], upload=True)
            return
        self._uploads[circuit] = conn
        self._unwatch(conn)
        arrived = len(pending.data) - pending.body_start
        length = facts.content_length or 0
        conn.intake_upload = (rules, min(arrived, length), length)
        conn.intake_close_after = True  # what follows the body is never read: the connection ends with it
        conn.intake_request = bytes(pending.data)
        conn.intake_first = False
        self._dispatch(conn)

    def _serve_upload(self, app: Any, reader: Any, environ: dict[str, Any], start_response: Any) -> Any:
        """Run the app on an upload (in its thread), its ``wsgi.input`` reading through ``reader``."""
        environ["intake.upload"] = True  # wsgi.input is a stream under the upload's rate and cap
        with contextlib.suppress(AttributeError):  # the connection ends with the upload: say so
            start_response.__self__.force_close()
        result = app(environ, start_response)
        if reader.cut is not None:
            # The app answered although its read was cut (Flask turns an exception into a 500 page): the
            # worker's answer wins (handle_error), so the person is told why and the connection closes.
            if hasattr(result, "close"):
                result.close()
            raise reader.cut
        return result

    def _upload_ended(self, circuit: str, conn: Any) -> None:
        """``conn``'s request ended: if it was its circuit's upload, a second one waiting may start."""
        if self._uploads.get(circuit) is not conn:
            return
        del self._uploads[circuit]
        held = self._held.pop(circuit, None)
        if held is not None:
            self._start_upload(held[0], held[1], held[2])

    def _expire_held(self, now: float) -> None:
        for circuit in [c for c, held in self._held.items() if held[3] <= now]:
            conn = self._held.pop(circuit)[0]
            self._refuse(conn, 429, "a second upload from one circuit", upload=True)
