"""System-level proofs: the whole server under gunicorn, a hostile visitor, a real browser, crashes."""
