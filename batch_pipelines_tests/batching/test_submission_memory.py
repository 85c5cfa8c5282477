"""A shard is streamed to the provider from its file, never copied into memory whole."""

from __future__ import annotations

import tracemalloc

import orjson

from batch_pipelines.providers.base import RequestLines


def test_an_openai_upload_streams_the_shard_from_its_file(emulator, providers, tmp_path) -> None:
    path = tmp_path / "job.jsonl"
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x" * 20_000}]}
    with open(path, "wb") as out:
        for n in range(1_000):  # ~20 MB
            line = {"custom_id": f"c{n}", "method": "POST", "url": "/v1/chat/completions"}
            out.write(orjson.dumps({**line, "body": body}) + b"\n")
    size = path.stat().st_size
    provider = providers.get("openai")
    tracemalloc.start()
    try:
        file_id = provider.upload("job", RequestLines(path))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert file_id
    # Both ends run in this process (the emulator's threads are traced too): a copy of the
    # shard anywhere on the way would show as at least `size`.
    assert peak < size / 4, f"upload peaked at {peak:,} bytes for a {size:,}-byte shard"
    assert provider.client.files.retrieve(file_id).bytes == size
