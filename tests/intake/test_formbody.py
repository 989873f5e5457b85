"""intake.formbody reads every urlencoded body exactly as werkzeug (urllib's parse_qsl) does."""

from __future__ import annotations

import io
from urllib.parse import parse_qsl, quote_from_bytes, urlencode

from hypothesis import example, given
from hypothesis import strategies as st
from werkzeug.formparser import FormDataParser

from intake.formbody import FastFormDataParser, parse_pairs

# Pieces a body is made of: escapes good and bad (half escapes, non-hex, bytes that are not UTF-8),
# separators, '+', literal ASCII and non-ASCII characters.
PIECES = st.one_of(
    st.sampled_from(["%", "%%", "%4", "%41", "%4g", "%zz", "%e2%82", "%E2%82%AC", "%ff", "%C3%28", "%00", "&", "&&",
                     "=", "==", "+", ";", "%2B", "%26", "%3D", "Ж", "€", "\u00a0", "\x00", "a", "ZZ", "%5C", "%5Cx41",
                     # backslashes: the fast path turns '%' into the codec's own escape, '\\x'
                     "\\", "\\\\", "\\x41", "\\u0416", "\\N{DASH}", "\\%41", "\\n"]),
    st.binary(max_size=8).map(quote_from_bytes),
    st.text(max_size=8),
)  # fmt: skip
BODY = st.lists(PIECES, max_size=40).map("".join)
PAIRS = st.lists(st.tuples(st.text(max_size=20), st.text(max_size=60)), max_size=12)


def _expected(body: str) -> list[tuple[str, str]]:
    return parse_qsl(body, keep_blank_values=True, errors="werkzeug.url_quote")


@given(body=BODY)
@example(body="a=%D0%96%D0%B8%D0%B7%D0%BD%D1%8C+%2B+1&b&=c&&d=%e2%82&e=%zz%41%%41Ж%41")
@example(body="a=\\%41\\x41\\u0041%5C%78%34%31&b=%D0\\%96")
def test_any_body_gives_the_pairs_parse_qsl_gives(body: str) -> None:
    assert parse_pairs(body) == _expected(body)


@given(pairs=PAIRS)
def test_what_a_browser_sends_comes_back_exactly(pairs: list[tuple[str, str]]) -> None:
    body = urlencode(pairs, encoding="utf-8", errors="surrogatepass")
    assert parse_pairs(body) == _expected(body)


@given(body=st.one_of(st.binary(max_size=200), BODY.map(lambda text: text.encode("utf-8", "surrogatepass"))))
def test_the_parser_gives_the_same_form_as_werkzeugs_for_any_bytes(body: bytes) -> None:
    mimetype = "application/x-www-form-urlencoded"
    ours = FastFormDataParser().parse(io.BytesIO(body), mimetype, len(body))
    theirs = FormDataParser().parse(io.BytesIO(body), mimetype, len(body))
    assert list(ours[1].items(multi=True)) == list(theirs[1].items(multi=True))
    assert not ours[2] and not theirs[2]
