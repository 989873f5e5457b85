"""`triage list --json` writes its array a few hundred cases at a time (triage.render.write_json): the same
bytes as writing each case after its separator, whatever the number of cases against the batch size."""

from __future__ import annotations

import io
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from triage import render


def _case_by_case(encoded: list[bytes]) -> bytes:
    out = [b"["]
    for n, item in enumerate(encoded):
        out += [b"\n" if n == 0 else b",\n", item]
    out.append(b"\n]\n")
    return b"".join(out)


@settings(max_examples=300)
@given(texts=st.lists(st.text(max_size=8), max_size=20), batch=st.integers(min_value=1, max_value=5),
       as_views=st.booleans())  # fmt: skip
def test_the_array_is_written_as_case_by_case_for_any_count_and_batch(texts: list[str], batch: int,
                                                                     as_views: bool) -> None:  # fmt: skip
    encoded = [json.dumps({"id": text}, ensure_ascii=False).encode("utf-8") for text in texts]
    written = io.BytesIO()
    saved = render.WRITE_CASES
    render.WRITE_CASES = batch
    try:
        render.write_json([memoryview(e) for e in encoded] if as_views else encoded, written)
    finally:
        render.WRITE_CASES = saved
    assert written.getvalue() == _case_by_case(encoded)
    assert json.loads(written.getvalue()) == [{"id": text} for text in texts]
