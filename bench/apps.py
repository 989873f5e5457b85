"""The two apps intake is measured against, each doing what intake does on the journey, the other way.

* ``make_baseline()``: the plaintext floor. The form page is a static page of the same bytes as intake's;
  the POST stores the form as plaintext JSON in SQLite (WAL, synchronous=FULL, like intake); the status
  page looks a row up by its id.
* ``make_peer()``: a SecureDrop-style design. Flask, a Flask-WTF form with CSRF rendered by Jinja, the
  SQLAlchemy ORM, and one GnuPG process per submission encrypting to an RSA-4096 key, stored with the same
  durability.

Both are served by gunicorn with deploy/gunicorn.conf.py, like intake (bench/intake_bench.py).
Configuration comes from ``BENCH_*`` variables the benchmark sets for its own gunicorn processes.
"""

from __future__ import annotations

import datetime
import json
import os
import secrets
import sqlite3
import subprocess
import threading
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
    from flask import Flask, request

    path = os.environ["BENCH_BASELINE_DB"]
    with open(os.environ["BENCH_STATIC_PAGE"], "rb") as page_file:
        page = page_file.read()
    with open(os.environ["BENCH_STATUS_PAGE"], "rb") as page_file:
        status_page = page_file.read()
    app = Flask("baseline")
    local = threading.local()

    def db() -> sqlite3.Connection:
        if not hasattr(local, "conn"):
            local.conn = _durable(sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False))
        return local.conn  # type: ignore[no-any-return]

    @app.get("/form")
    def form() -> tuple[bytes, int, dict[str, str]]:
        return page, 200, {"Content-Type": "text/html; charset=utf-8"}

    @app.post("/submit")
    def submit() -> str:
        form = {k: request.form.getlist(k) for k in request.form}
        conn = db()
        conn.execute("BEGIN IMMEDIATE")
        cursor = conn.execute("INSERT INTO requests (body, received_on) VALUES (?, ?)",
                              (json.dumps(form, ensure_ascii=False), datetime.date.today().isoformat()))  # fmt: skip
        conn.execute("COMMIT")
        return f"stored {cursor.lastrowid}"

    @app.get("/status")
    def status_form() -> tuple[bytes, int, dict[str, str]]:
        return status_page, 200, {"Content-Type": "text/html; charset=utf-8"}

    @app.post("/status")
    def status() -> str:
        row = db().execute("SELECT received_on FROM requests WHERE id = ?", (request.form.get("id", ""),)).fetchone()
        return f"status {'found' if row else 'unknown'}"

    return app


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
    from flask import Flask, render_template_string
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

    engine = create_engine(f"sqlite:///{os.environ['BENCH_PEER_DB']}", connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        _durable(dbapi_conn)

    Base.metadata.create_all(engine)
    gnupg_home, recipient = os.environ["BENCH_PEER_GNUPGHOME"], os.environ["BENCH_PEER_FINGERPRINT"]
    app = Flask("peer")
    app.config.update(SECRET_KEY=os.environ["BENCH_PEER_SECRET"], WTF_CSRF_SSL_STRICT=False)

    @app.route("/form", methods=["GET", "POST"])
    def form() -> Any:
        form = RequestForm()
        if not form.validate_on_submit():
            return render_template_string(PEER_PAGE, form=form)
        payload = json.dumps({name: form[name].data for name in FIELDS}, ensure_ascii=False).encode()
        done = subprocess.run(["gpg", "--homedir", gnupg_home, "--batch", "--quiet", "--trust-model", "always",
                               "--encrypt", "--recipient", recipient], input=payload, capture_output=True,
                              check=True)  # fmt: skip
        with Session(engine) as session, session.begin():
            session.add(Submission(filename=secrets.token_hex(16), ciphertext=done.stdout,
                                   received_on=datetime.date.today()))  # fmt: skip
        return "<!doctype html><p>Thank you. Your submission was received.</p>"

    return app
