"""A 50,000-line OpenAI batch completes and downloads while the server's memory stays flat.

The emulator runs as a separate process (`python -m batch_pipelines.emulator`), so its peak RSS
(VmHWM) can be read from /proc without counting the test's own buffers.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import openai
import orjson
import pytest

from .conftest import chat_body, shared_http

LINES = 50_000


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _peak_rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def _run_batch(client: openai.OpenAI, path: Path, out_path: Path) -> tuple[openai.types.Batch, int]:
    with open(path, "rb") as handle:
        file = client.files.create(file=(path.name, handle), purpose="batch")
    batch = client.batches.create(
        input_file_id=file.id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    batch = client.batches.retrieve(batch.id)
    lines = 0
    with (
        client.files.with_streaming_response.content(batch.output_file_id) as response,
        open(out_path, "wb") as out,
    ):
        for chunk in response.iter_bytes(1 << 16):
            out.write(chunk)
            lines += chunk.count(b"\n")
    return batch, lines


def _write_input(path: Path, count: int) -> None:
    with open(path, "wb") as out:
        for i in range(count):
            line = {
                "custom_id": f"call-{i}",
                "method": "POST",
                "url": "/v1/chat/completions",
                "body": chat_body(i),
            }
            out.write(orjson.dumps(line) + b"\n")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc to read peak RSS")
def test_a_50000_line_batch_completes_and_downloads_with_flat_server_memory(tmp_path):
    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "batch_pipelines.emulator",
            "--port",
            str(port),
            "--home",
            str(tmp_path / "emu"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if (
                    shared_http().get(f"http://127.0.0.1:{port}/_emulator/health").status_code
                    == 200
                ):
                    break
            except Exception:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.1)
        client = openai.OpenAI(
            base_url=f"http://127.0.0.1:{port}/v1",
            api_key="test",
            max_retries=0,
            timeout=300,
            http_client=shared_http(),
            _strict_response_validation=True,
        )
        _write_input(tmp_path / "warmup.jsonl", 200)
        _run_batch(client, tmp_path / "warmup.jsonl", tmp_path / "warmup-out.jsonl")
        baseline_kb = _peak_rss_kb(server.pid)

        _write_input(tmp_path / "big.jsonl", LINES)
        started = time.perf_counter()
        batch, lines = _run_batch(client, tmp_path / "big.jsonl", tmp_path / "big-out.jsonl")
        elapsed = time.perf_counter() - started
        growth_kb = _peak_rss_kb(server.pid) - baseline_kb
    finally:
        server.terminate()
        server.wait(timeout=15)

    output_kb = (tmp_path / "big-out.jsonl").stat().st_size // 1024
    input_kb = (tmp_path / "big.jsonl").stat().st_size // 1024
    print(
        f"\n50k-line batch: {elapsed:.1f} s (upload+create+complete+download), input {input_kb / 1024:.1f} MB, "
        f"output {output_kb / 1024:.1f} MB, server peak RSS growth {growth_kb / 1024:.1f} MB"
    )
    assert batch.status == "completed"
    assert batch.request_counts.completed == LINES and lines == LINES
    assert growth_kb < output_kb / 4, (
        f"server memory grew {growth_kb} kB for a {output_kb} kB output"
    )
