"""Invariant: a secret is compared in constant time (issue 22 item 6).

Every ``==`` / ``!=`` in crypto, intake and triage between two values whose names say digest, token, receipt
lookup, key, MAC, tag, signature, hash, commitment, manifest, code, passphrase or secret must go through
``hmac.compare_digest`` (or libsodium, which compares in constant time itself). The few comparisons of such
names that are not secrets (public keys, a file's title line, a SQL expression that the database evaluates and
that is then checked with compare_digest) are listed below, each with why. The test proves it can see the bug:
every ``hmac.compare_digest(a, b)`` in the code, rewritten as ``a == b``, is flagged.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("crypto", "intake", "triage")
# "fingerprint", "public", "given", "expected" and "again" are not secrets in themselves: they are here because
# code compares them with compare_digest today (a desk code, a repeated passphrase), so that writing one of those
# as == is caught too (the second test below).
SECRET = re.compile(
    r"digest|token|lookup|key|mac\b|_mac|tag|secret|receipt|signature|sig\b|hash|csrf|code|nonce|passphrase|"
    r"password|commitment|manifest|(?:^|_)raw(?:$|_)|cookie|session|fingerprint|public|given|expected|again",
    re.IGNORECASE,
)
# Calls that hand back their receiver in another shape: the receiver's name is what counts.
RESHAPE = frozenset({"encode", "decode", "hex", "lower", "upper", "strip", "casefold", "replace", "bytes", "str",
                     "fromhex", "b64encode", "b64decode", "normalize_fingerprint"})  # fmt: skip

# (file, comparison as ast.unparse writes it): why it is not a secret.
NOT_SECRETS: dict[tuple[str, str], str] = {
    ("crypto/answers.py", "keys != PAYLOAD_NAMES"): "the key names of a payload, the format's public words",
    ("intake/blobs.py", "stager == self._id"): "a staging id, a random name for a process's staging lock, no secret",
    ("intake/priority.py", "mimetype != URLENCODED"): "a request's media type",
    ("triage/store.py", "value.keys() == _RECORD_KEYS"): "the field names of a case record, the store's format",
    ("triage/answers_view.py", "(found.id, found.version, found.sha256) == key"): "a questionnaire's public id, "
    "version and hash, which the payload names",
    ("crypto/ack.py", "c.sign_public == sign_public"): "a public signing key, picking the registered caseworker",
    ("crypto/keys.py", "lines[0] != PUBLIC_KEY_TITLE"): "the first line of a public key file",
    ("crypto/keys.py", "normalize_fingerprint(values['fingerprint']) != public.fingerprint"): "a public key's"
    " fingerprint against the one the file claims",
    ("crypto/keys.py", "tokens[4] != title[4]"): "words of a key file's title line",
    ("crypto/keys.py", "tokens[:4] != title[:4]"): "words of a key file's title line",
    ("crypto/keys.py", "label != key"): "the label of a line in a key file (its field name)",
    ("crypto/reply_keys.py", "base64.b64encode(raw).decode('ascii') != text"): "a public reply key's canonical "
    "spelling",
    ("crypto/bundle.py", "server != expected_server"): "the bundle's public server key against the pinned one",
    ("intake/doctor.py", "path.stat().st_uid != expected"): "a file's owner (a uid) against the service user's",
    ("intake/storage.py", "self._tokens_forgotten_on != day"): "the day used tokens were last forgotten (a date)",
    ("crypto/filestream.py", "tag == _FINAL"): "secretstream's message tag (which chunk is last), not a MAC",
    ("crypto/questionnaire.py", "raw['format'] != FORMAT"): "a questionnaire file's format number",
    ("crypto/questionnaire_canonical.py", "again != data"): "a questionnaire's public text against its canonical form",
    ("intake/errors.py", "error.code == NotFound.code"): "an HTTP status code",
    ("triage/home.py", "p.suffix == KEY_SUFFIX"): "a file name's suffix",
    ("intake/storage.py", "row.fingerprint == public.fingerprint"): "public key fingerprints",
    ("triage/operations.py", "parse_fingerprint(typed_fingerprint) != server.fingerprint"): "the server's public "
    "key fingerprint, which the refusal names anyway",
    ("triage/forked.py", "given == total"): "how many pieces of work were handed out, against how many there are",
}


def _name(node: ast.AST) -> str | None:
    """The name an operand goes by: a variable, an attribute, a subscripted value, or a call's subject."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Subscript):
        return _name(node.value)
    if isinstance(node, ast.BinOp):
        return _name(node.left) or _name(node.right)
    if isinstance(node, ast.Call):
        function = node.func
        called = function.id if isinstance(function, ast.Name) else getattr(function, "attr", None)
        if called in RESHAPE:
            if isinstance(function, ast.Attribute) and called not in ("fromhex", "b64encode", "b64decode"):
                inner = _name(function.value)
                if inner and SECRET.search(inner):
                    return inner
            return _name(node.args[0]) if node.args else None
        return called
    return None


def _is_sql(node: ast.AST) -> bool:
    """``table.c.column == ...``: a WHERE clause the database evaluates (the row found is then compared)."""
    return isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute) and node.value.attr == "c"


def suspicious(tree: ast.AST) -> list[ast.Compare]:
    """Every == / != between two operands of which one has a secret's name (a literal on either side is a
    check of a format, not of a secret; len() and type() are lengths and kinds)."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Compare) or not any(isinstance(op, (ast.Eq, ast.NotEq)) for op in node.ops):
            continue
        operands = [node.left, *node.comparators]
        if any(isinstance(o, ast.Constant) for o in operands) or any(_is_sql(o) for o in operands):
            continue
        if any(isinstance(o, ast.Call) and getattr(o.func, "id", None) in ("len", "type") for o in operands):
            continue
        if any((name := _name(o)) and SECRET.search(name) for o in operands):
            found.append(node)
    return found


def _sources() -> list[tuple[str, ast.AST]]:
    return [(str(p.relative_to(ROOT)), ast.parse(p.read_text(encoding="utf-8")))
            for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))]  # fmt: skip


def test_every_comparison_of_a_secret_is_constant_time() -> None:
    flagged = [(path, ast.unparse(node), node.lineno) for path, tree in _sources() for node in suspicious(tree)]
    unexplained = [f"{path}:{line}: {text}" for path, text, line in flagged if (path, text) not in NOT_SECRETS]
    assert not unexplained, "compare these with hmac.compare_digest, or say in NOT_SECRETS why they are public"
    # And the list holds no stale entry (each still names a comparison in the code, where its file exists:
    # entries may name a module another branch adds)
    present = {(path, text) for path, text in NOT_SECRETS if (ROOT / path).exists()}
    assert present <= {(path, text) for path, text, _ in flagged}


class _Leak(ast.NodeTransformer):
    """Rewrites one ``hmac.compare_digest(a, b)`` (the n-th) as ``a == b``: the seeded bug."""

    def __init__(self, target: int) -> None:
        self.target, self.seen, self.done = target, -1, False

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.func, ast.Attribute) and node.func.attr == "compare_digest" and len(node.args) == 2:
            self.seen += 1
            if self.seen == self.target:
                self.done = True
                return ast.Compare(left=node.args[0], ops=[ast.Eq()], comparators=[node.args[1]])
        return node


def _constant_time_calls() -> list[tuple[str, int]]:
    calls = []
    for path, tree in _sources():
        count = sum(1 for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "attr", "") ==
                    "compare_digest")  # fmt: skip
        calls += [(path, n) for n in range(count)]
    return calls


@pytest.mark.parametrize("path, index", _constant_time_calls())
def test_any_constant_time_comparison_turned_into_equality_is_caught(path: str, index: int) -> None:
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
    before = len(suspicious(tree))
    leak = _Leak(index)
    seeded = ast.fix_missing_locations(leak.visit(tree))
    assert leak.done
    assert len(suspicious(seeded)) == before + 1, f"{path}: compare_digest #{index} as == goes unnoticed"


def test_there_are_constant_time_comparisons_to_check() -> None:
    assert len(_constant_time_calls()) >= 10
