"""A shard is streamed to the provider from its file, never copied into memory whole."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import tracemalloc
import urllib.request

import anthropic
import orjson
import pytest

from batch_pipelines.providers.anthropic_batch import AnthropicBatchProvider
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


@pytest.fixture
def emulator_process(tmp_path):
    """The emulator in a process of its own: its side of a create (it reads the whole body, as the
    real service must) stays out of this process's traced memory."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "batch_pipelines.emulator",
            "--port",
            str(port),
            "--home",
            str(tmp_path / "emulator"),
        ],  # fmt: skip
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                with urllib.request.urlopen(f"{url}/_emulator/health", timeout=1):
                    break
            except OSError:
                time.sleep(0.05)
        else:
            raise RuntimeError("the emulator did not start")
        yield url
    finally:
        process.terminate()
        process.wait(10)


def test_an_anthropic_create_streams_the_shard_from_its_file(emulator_process, tmp_path) -> None:
    """Item 7 of issue 16: the create body is streamed from the spool, never built as Python
    objects (gigabytes for a 230 MB shard) nor copied whole."""
    path = tmp_path / "job.jsonl"
    params = {
        "model": "claude-haiku-4-5",
        "max_tokens": 50,
        "messages": [{"role": "user", "content": "x" * 20_000}],
    }
    with open(path, "wb") as out:
        for n in range(1_000):  # ~20 MB
            out.write(orjson.dumps({"custom_id": f"c{n}", "params": params}) + b"\n")
    size = path.stat().st_size
    client = anthropic.Anthropic(base_url=emulator_process, api_key="x", max_retries=0)
    provider = AnthropicBatchProvider(client)
    tracemalloc.start()
    try:
        status = provider.create("job", "/v1/messages", None, RequestLines(path))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < size / 4, f"create peaked at {peak:,} bytes for a {size:,}-byte shard"
    assert sum(status.request_counts.values()) == 1_000
