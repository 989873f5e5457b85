"""The apps intake is measured against, each doing what intake does on the journey, the other way.

* ``make_baseline()``: the plaintext floor of a *careful* app (issue 21 item 1): Flask, with the same generic
  machinery intake uses and none of its cryptography: intake's fast body readers (``intake.formbody``, and
  ``intake.multipart`` for the multipart body the form posts since it has a file input), the
  same SQLite engine and durability (WAL, synchronous=FULL), the writer queue and group commit
  (``intake.database.WriteQueue``, ``intake.group_commit``). The form page is a static page of the same
  bytes as intake's; the POST stores the form as plaintext JSON; the status page looks a row up by its id
  and shows the plaintext replies stored for it (three, like intake's).
* ``make_sealing_floor()``: the baseline plus only the cryptography and storage no sealing design avoids
  (the reply key, sealing to the caseworker key, the one-size envelope stored under a random rowid): not a
  target, a floor. Intake's distance to it is what its own code and its further guarantees cost.
* ``make_peer()``: SecureDrop before 2.7. Flask, a Flask-WTF form with CSRF rendered by Jinja (compiled
  once), the SQLAlchemy ORM, and one GnuPG process per submission encrypting to an RSA-4096 key, stored
  with the same durability.
* ``make_peer27()``: SecureDrop since 2.7 (``redwood``): the same, but the OpenPGP encryption runs in the
  process (Sequoia, through PyPI's ``pysequoia``, a benchmark-only dependency that the product's locks do
  not hold) to the same RSA-4096 key, and the ciphertext is written as a file to a store folder beside a
  row naming it, as SecureDrop's store does.

The peers' tables are created by the benchmark before their workers start (two workers racing to create
them made one start in five fail). All are served by gunicorn with deploy/gunicorn.conf.py, like intake
(bench/intake_bench.py). Configuration comes from ``BENCH_*`` variables the benchmark sets.
"""

from __future__ import annotations

import datetime
import json
import os
import secrets
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

from sqlalchemy import Date, Integer, LargeBinary, String, create_engine, event
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

FIELDS = ("danger", "threat_from", "detention", "location", "people", "children", "documents", "health",
          "contact_method", "contact", "safe_times", "alias", "story", "consent")  # fmt: skip


def _durable(conn: sqlite3.Connection) -> sqlite3.Connection:
    for pragma in ("journal_mode=WAL", "synchronous=FULL", "busy_timeout=30000"):
        conn.execute(f"PRAGMA {pragma}")
    return conn


def make_baseline() -> Any:
    def keep(form: dict[str, list[str]], day: str) -> tuple[str, tuple[Any, ...]]:
        return "INSERT INTO requests (body, received_on) VALUES (?, ?)", (json.dumps(form, ensure_ascii=False), day)

    return _plain_app("baseline", keep)


def make_sealing_floor() -> Any:
    """The baseline plus only the work no design that seals on arrival can skip (issue 21's list): the reply
    key derived from a receipt (one X25519), the answers sealed to the caseworker key (two X25519 and a
    32 KiB XChaCha20-Poly1305, through crypto's own sealing) and the one-size envelope, not the plaintext,
    stored under a random rowid. No CSRF, receipt table, one-time token, validation or policy headers: what
    intake does beyond this floor is the cost of those guarantees and of its own code."""
    import crypto
    from crypto.answers import seal_encoded_request

    recipients = [crypto.PublicIdentity.from_text(Path(os.environ["BENCH_FLOOR_RECIPIENT"]).read_text())]
    reply_secret = secrets.token_bytes(32)

    def keep(form: dict[str, list[str]], day: str) -> tuple[str, tuple[Any, ...]]:
        digits = f"{secrets.randbelow(10**30):030d}"
        reply_key = crypto.derive_reply_keypair(digits, reply_secret).public
        payload = json.dumps({"answers": form, "reply_key": reply_key.to_b64(), "submitted_on": day},
                             ensure_ascii=False, separators=(",", ":")).encode("utf-8")  # fmt: skip
        envelope = seal_encoded_request(payload, for_recipients=recipients)
        return "INSERT INTO sealed (id, envelope, received_on) VALUES (?, ?, ?)", (secrets.randbits(63), envelope, day)

    return _plain_app("floor", keep)


def _plain_app(name: str, keep: Any) -> Any:
    """The baseline's Flask app; ``keep(form, day)`` gives the statement and values that store a submission."""
    from flask import Flask, request
    from flask.wrappers import Request

    from intake import uploads
    from intake.config import IntakeConfig
    from intake.database import Database
    from intake.formbody import FastFormDataParser
    from intake.group_commit import GroupCommit, Pending
    from intake.multipart import read_multipart

    class FastRequest(Request):
        form_data_parser_class = FastFormDataParser

    database = Database(f"sqlite:///{os.environ['BENCH_BASELINE_DB']}")
    with open(os.environ["BENCH_STATIC_PAGE"], "rb") as page_file:
        page = page_file.read()
    with open(os.environ["BENCH_STATUS_PAGE"], "rb") as page_file:
        status_page = page_file.read()
    app = Flask(name)
    app.request_class = FastRequest

    def store(conn: Any, group: list[Pending]) -> None:
        driver = conn.connection.driver_connection
        for item in group:
            item.result = driver.execute(*item.work).lastrowid

    group = GroupCommit(database.writing, store)

    @app.get("/form")
    def form() -> tuple[bytes, int, dict[str, str]]:
        return page, 200, {"Content-Type": "text/html; charset=utf-8"}

    # A multipart body (the form has a file input) is read by intake's own streaming parser, with intake's
    # limits for a body without files: never werkzeug's form parser, as in intake.uploads.
    limits = uploads.limits(IntakeConfig(instance_dir=Path(os.environ["BENCH_BASELINE_DB"]).parent))

    @app.post("/submit")
    def submit() -> str:
        if request.mimetype != "multipart/form-data":
            fields: Any = request.form
        else:  # request.form is never touched: werkzeug would parse (and spool) the body first
            fields = read_multipart(request.environ["wsgi.input"].read, request.content_length,
                                    request.headers.get("Content-Type", ""), limits, None,
                                    lambda _fields: False).fields  # fmt: skip
        form = {k: fields.getlist(k) for k in fields}
        stored = group.submit(keep(form, datetime.date.today().isoformat()))
        return f"stored {stored}"

    @app.get("/status")
    def status_form() -> tuple[bytes, int, dict[str, str]]:
        return status_page, 200, {"Content-Type": "text/html; charset=utf-8"}

    @app.post("/status")
    def status() -> str:
        with database.reading() as conn:
            driver = conn.connection.driver_connection
            row = driver.execute("SELECT received_on FROM requests WHERE id = ?", (request.form.get("id", ""),)
                                 ).fetchone()  # fmt: skip
            replies = driver.execute("SELECT text FROM replies WHERE request_id = ?", (request.form.get("id", ""),)
                                     ).fetchall()  # fmt: skip
        shown = "".join(f"<p>{reply[0]}</p>" for reply in replies)
        return f"status {'found' if row else 'unknown'}{shown}"

    return app


def prepare_baseline(path: Path, replies: list[str]) -> None:
    """The baseline's tables, and the plaintext replies its status page shows for request 1."""
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE requests (id INTEGER PRIMARY KEY, body TEXT NOT NULL, received_on TEXT NOT NULL)")
        conn.execute("CREATE TABLE replies (id INTEGER PRIMARY KEY, request_id INTEGER NOT NULL, text TEXT NOT NULL)")
        conn.execute("CREATE INDEX replies_request ON replies (request_id)")
        # The sealing floor's envelopes (make_sealing_floor), beside the plaintext rows, in the same database.
        conn.execute("CREATE TABLE sealed (id INTEGER PRIMARY KEY, envelope BLOB NOT NULL, received_on TEXT NOT NULL)")
        conn.execute("INSERT INTO requests (id, body, received_on) VALUES (1, '{}', '2026-01-01')")
        conn.executemany("INSERT INTO replies (request_id, text) VALUES (1, ?)", [(text,) for text in replies])


PEER_PAGE = """<!doctype html><html lang="ru"><head><meta charset="utf-8"><title>Request</title></head><body>
<form method="post">{{ form.csrf_token }}
{% for field in form if field.name != "csrf_token" %}<p>{{ field.label }} {{ field() }}</p>{% endfor %}
<button>Send</button></form></body></html>"""


class Base(DeclarativeBase):
    pass


class Submission(Base):
    """The peer's row: like SecureDrop's, a random file name and the GnuPG ciphertext."""

    __tablename__ = "submissions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    filename: Mapped[str] = mapped_column(String(64))
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    received_on: Mapped[datetime.date] = mapped_column(Date)


def make_peer() -> Any:
    RequestForm = _peer_form()
    engine = _peer_engine(os.environ["BENCH_PEER_DB"])
    gnupg_home, recipient = os.environ["BENCH_PEER_GNUPGHOME"], os.environ["BENCH_PEER_FINGERPRINT"]
    def encrypt(payload: bytes) -> bytes:
        done = subprocess.run(["gpg", "--homedir", gnupg_home, "--batch", "--quiet", "--trust-model", "always",
                               "--encrypt", "--recipient", recipient], input=payload, capture_output=True,
                              check=True)  # fmt: skip
        return done.stdout

    return _peer_app("peer", RequestForm, engine, lambda payload: (secrets.token_hex(16), encrypt(payload)))


def _peer_app(name: str, form_class: Any, engine: Any, seal: Any) -> Any:
    """The peers' shared Flask app: ``seal(payload)`` gives (file name, ciphertext to keep in the row)."""
    from flask import Flask

    app = Flask(name)
    app.config.update(SECRET_KEY=os.environ["BENCH_PEER_SECRET"], WTF_CSRF_SSL_STRICT=False)
    page = app.jinja_env.from_string(PEER_PAGE)  # compiled once, as render_template's cache would

    @app.route("/form", methods=["GET", "POST"])
    def form() -> Any:
        form = form_class()
        if not form.validate_on_submit():
            return page.render(form=form)
        payload = json.dumps({name: form[name].data for name in FIELDS}, ensure_ascii=False).encode()
        filename, ciphertext = seal(payload)
        with Session(engine) as session, session.begin():
            session.add(Submission(filename=filename, ciphertext=ciphertext, received_on=datetime.date.today()))
        return "<!doctype html><p>Thank you. Your submission was received.</p>"

    return app


def _peer_form() -> Any:
    from flask_wtf import FlaskForm
    from wtforms import BooleanField, IntegerField, RadioField, SelectMultipleField, StringField, TextAreaField
    from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

    choices = lambda *values: [(v, v) for v in values]  # noqa: E731
    many = {"validators": [Optional()], "validate_choice": False}

    class RequestForm(FlaskForm):  # type: ignore[misc]
        danger = RadioField(choices=choices("immediate", "serious", "not_immediate"), validators=[InputRequired()])
        threat_from = SelectMultipleField(choices=choices("authorities", "family", "community", "partner"), **many)
        detention = RadioField(choices=choices("never", "past", "recent"), validators=[Optional()])
        location = RadioField(choices=choices("chechnya", "north_caucasus", "russia_other", "outside_russia",
                                              "undisclosed"), validators=[Optional()])  # fmt: skip
        people = IntegerField(validators=[InputRequired(), NumberRange(1, 20)])
        children = IntegerField(validators=[Optional(), NumberRange(0, 20)])
        documents = SelectMultipleField(choices=choices("internal_passport", "international_passport", "none"), **many)
        health = TextAreaField(validators=[Optional(), Length(max=1000)])
        contact_method = RadioField(choices=choices("signal", "telegram", "whatsapp", "email", "phone", "other"),
                                    validators=[InputRequired()])  # fmt: skip
        contact = StringField(validators=[DataRequired(), Length(max=200)])
        safe_times = StringField(validators=[Optional(), Length(max=200)])
        alias = StringField(validators=[Optional(), Length(max=100)])
        story = TextAreaField(validators=[DataRequired(), Length(max=10_000)])
        consent = BooleanField(validators=[DataRequired()])

    return RequestForm


def _peer_engine(path: str) -> Any:
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        _durable(dbapi_conn)

    return engine


def prepare_peer(path: Path) -> None:
    """The peers' table, created before any worker starts."""
    engine = _peer_engine(str(path))
    Base.metadata.create_all(engine)
    engine.dispose()


def make_peer27() -> Any:
    """SecureDrop since 2.7: in-process OpenPGP (Sequoia) to the same key, a file per submission in a store."""
    import pysequoia

    store = Path(os.environ["BENCH_PEER27_STORE"])
    cert = pysequoia.Cert.from_file(os.environ["BENCH_PEER_PUBLIC_KEY"])
    engine = _peer_engine(os.environ["BENCH_PEER27_DB"])

    def seal(payload: bytes) -> tuple[str, bytes]:
        # As redwood.encrypt_message and SecureDrop's Storage: the message file, fsynced, then the row.
        filename = f"1-{secrets.token_hex(8)}-msg.gpg"
        ciphertext = pysequoia.encrypt(payload, recipients=[cert], armor=True)
        fd = os.open(store / filename, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, ciphertext)
            os.fsync(fd)
        finally:
            os.close(fd)
        return filename, b""

    return _peer_app("peer27", _peer_form(), engine, seal)
