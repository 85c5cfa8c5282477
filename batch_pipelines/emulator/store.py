"""Persistent storage: one sqlite file for metadata, plain files for every payload.

Layout under the emulator home (`$BATCH_PIPELINES_HOME/emulator/` by default):

    state.sqlite3                   metadata (WAL mode)
    files/<file_id>.jsonl           OpenAI uploaded files and generated output/error files
                                    (deleting a file through the API hides it; bytes stay)
    anthropic/requests/<seq>-<batch_id | rejected>.jsonl
                                    every Anthropic batch create, one request per line
    anthropic/results/<batch_id>.jsonl
                                    Anthropic results, written once when the batch ends
    sync_requests.jsonl             every synchronous request body (both providers)
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import string
import threading
from array import array
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import orjson

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS oa_files (
    id TEXT PRIMARY KEY, seq INTEGER NOT NULL, purpose TEXT NOT NULL, filename TEXT NOT NULL,
    bytes INTEGER NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER,
    status TEXT NOT NULL, deleted INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS oa_files_seq ON oa_files (seq);
CREATE TABLE IF NOT EXISTS oa_batches (
    id TEXT PRIMARY KEY, seq INTEGER NOT NULL, created REAL NOT NULL, spec TEXT NOT NULL,
    plan TEXT NOT NULL, cancel_at REAL, result TEXT
);
CREATE INDEX IF NOT EXISTS oa_batches_seq ON oa_batches (seq);
CREATE TABLE IF NOT EXISTS an_batches (
    id TEXT PRIMARY KEY, seq INTEGER NOT NULL, created REAL NOT NULL, plan TEXT NOT NULL,
    cancel_at REAL, result TEXT, deleted INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS an_batches_seq ON an_batches (seq);
CREATE TABLE IF NOT EXISTS prompt_cache (
    key BLOB PRIMARY KEY, expires_at REAL NOT NULL, ttl REAL NOT NULL
);
"""

_ALNUM = string.ascii_letters + string.digits
_UINT64 = (1 << 64) - 1


def random_token(length: int, alphabet: str = _ALNUM) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def new_id(kind: str) -> str:
    """Provider-shaped ids."""
    if kind == "file":
        return "file-" + random_token(22)
    if kind == "batch":
        return "batch_" + secrets.token_hex(16)
    if kind == "msgbatch":
        return "msgbatch_01" + random_token(22)
    if kind == "openai_request":
        return "req_" + secrets.token_hex(16)
    if kind == "anthropic_request":
        return "req_011C" + random_token(20)
    if kind == "chatcmpl":
        return "chatcmpl-" + random_token(29)
    if kind == "msg":
        return "msg_01" + random_token(22)
    raise ValueError(kind)


def dumps(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY)


class Store:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.files_dir = self.root / "files"
        self.anthropic_requests_dir = self.root / "anthropic" / "requests"
        self.anthropic_results_dir = self.root / "anthropic" / "results"
        self.sync_log_path = self.root / "sync_requests.jsonl"
        for folder in (self.files_dir, self.anthropic_requests_dir, self.anthropic_results_dir):
            folder.mkdir(parents=True, exist_ok=True)
        self.lock = threading.RLock()
        self._log_lock = threading.Lock()
        self.db = sqlite3.connect(
            self.root / "state.sqlite3", check_same_thread=False, isolation_level=None, timeout=30
        )
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        with self.lock:
            self.db.close()

    # -- sqlite helpers (all serialized by one lock: statements are short)

    def one(self, sql: str, params: tuple = ()) -> sqlite3.Row | tuple | None:
        with self.lock:
            return self.db.execute(sql, params).fetchone()

    def all(self, sql: str, params: tuple = ()) -> list[tuple]:
        with self.lock:
            return self.db.execute(sql, params).fetchall()

    def execute(self, sql: str, params: tuple = ()) -> None:
        with self.lock:
            self.db.execute(sql, params)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")

    def next_seq(self, name: str) -> int:
        with self.transaction() as db:
            row = db.execute("SELECT value FROM meta WHERE key = ?", (f"seq:{name}",)).fetchone()
            value = int(row[0]) + 1 if row else 1
            db.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                (f"seq:{name}", str(value)),
            )
        return value

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self.one("SELECT value FROM meta WHERE key = ?", (key,))
        return row[0] if row else default

    def set_meta(self, key: str, value: str) -> None:
        self.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    # -- prompt cache persistence

    def load_cache(self) -> list[tuple[bytes, float, float]]:
        return [tuple(r) for r in self.all("SELECT key, expires_at, ttl FROM prompt_cache")]

    def save_cache(self, rows: list[tuple[bytes, float, float]]) -> None:
        with self.transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO prompt_cache (key, expires_at, ttl) VALUES (?, ?, ?)", rows
            )

    # -- payload files

    def file_path(self, file_id: str) -> Path:
        return self.files_dir / f"{file_id}.jsonl"

    def results_path(self, batch_id: str) -> Path:
        return self.anthropic_results_dir / f"{batch_id}.jsonl"

    def log_sync_request(self, record: dict[str, Any]) -> None:
        line = dumps(record) + b"\n"
        with self._log_lock, open(self.sync_log_path, "ab") as handle:
            handle.write(line)

    def reset(self) -> None:
        with self.transaction() as db:
            for table in ("meta", "oa_files", "oa_batches", "an_batches", "prompt_cache"):
                db.execute(f"DELETE FROM {table}")
        for folder in (self.files_dir, self.anthropic_requests_dir, self.anthropic_results_dir):
            for path in folder.iterdir():
                path.unlink(missing_ok=True)
        self.sync_log_path.unlink(missing_ok=True)


def iter_jsonl(path: Path) -> Iterator[bytes]:
    """Non-empty lines of a JSONL file, streamed."""
    with open(path, "rb") as handle:
        for raw in handle:
            line = raw.rstrip(b"\r\n")
            if line.strip():
                yield line


def iter_jsonl_indexed(
    path: Path, shuffle: tuple[int, int] | None = None
) -> Iterator[tuple[int, bytes]]:
    """(input index, line) for the non-empty lines of a JSONL file: in input order, or, with
    `shuffle=(seed, create ordinal)`, in a permutation drawn from them.

    Both services warn that results are not in request order; producing them in a shuffled order
    writes shuffled result files in one pass. Memory holds 24 bytes per line, never the lines:
    each is read where it lies (`pread`; an mmap would count the file in resident memory).
    """
    if shuffle is None:
        yield from enumerate(iter_jsonl(path))
        return
    offsets, lengths = array("q"), array("q")
    offset = 0
    with open(path, "rb") as handle:
        for raw in handle:
            line = raw.rstrip(b"\r\n")
            if line.strip():
                offsets.append(offset)
                lengths.append(len(line))
            offset += len(raw)
    seed, ordinal = shuffle
    order = np.random.default_rng([seed & _UINT64, ordinal & _UINT64]).permutation(len(offsets))
    with open(path, "rb", buffering=0) as handle:
        descriptor = handle.fileno()
        for position in order:
            index = int(position)
            yield index, os.pread(descriptor, lengths[index], offsets[index])
