"""How result files are cut into lines (`providers.base.jsonl_lines`)."""

from __future__ import annotations

import orjson
import pytest

from batch_pipelines.providers.base import jsonl_lines

LINES = [
    orjson.dumps({"custom_id": "a", "text": "line\u2028separator and \u0085 next-line inside"}),
    orjson.dumps({"custom_id": "b", "text": "x" * 5000}),
    b'{"custom_id": "c"}\r',  # a CRLF file: JSON allows the trailing \r
]


@pytest.mark.parametrize("size", [1, 7, 64, 100_000])
def test_lines_end_at_newlines_only_whatever_the_chunking(size: int) -> None:
    data = b"\n".join(LINES) + b"\n\n   \n\t\n" + b'{"custom_id": "last, no newline"}'
    chunks = [data[i : i + size] for i in range(0, len(data), size)]
    lines = list(jsonl_lines(iter(chunks)))
    assert lines == [*LINES, b'{"custom_id": "last, no newline"}']
    assert [orjson.loads(line)["custom_id"] for line in lines] == [
        "a",
        "b",
        "c",
        "last, no newline",
    ]


def test_an_empty_or_blank_stream_has_no_lines() -> None:
    assert list(jsonl_lines([])) == []
    assert list(jsonl_lines([b"", b"\n \n", b"\t"])) == []
