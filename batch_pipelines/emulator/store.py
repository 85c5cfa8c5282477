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

import hashlib
import mmap
import os
import secrets
import sqlite3
import string
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

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


class ResultWriter:
    """Writes a results file whose line order is not the input order, as both services warn
    ("results are not guaranteed to be in the same order as requests").

    Lines go to a temporary file in the order they are produced; on close they are copied to
    `path` ordered by a hash of (seed, the batch's create ordinal, custom_id), or kept as they are when `order` is
    None (`ordered_results`). Memory holds one small entry per line, never the lines. An empty
    result leaves no file (`size == 0`).
    """

    def __init__(self, path: Path, order: tuple[int, int] | None) -> None:
        self.path = path
        self.size = 0
        self._tmp = path.with_suffix(".tmp")
        self._order = order
        self._entries: list[tuple[bytes, int, int]] = []
        self._handle: Any = None

    def __enter__(self) -> ResultWriter:
        self._handle = open(self._tmp, "wb", buffering=1 << 20)
        return self

    def write(self, custom_id: str, line: bytes) -> None:
        if self._order is not None:
            key = hashlib.blake2b(
                f"{self._order[0]}:{self._order[1]}:{custom_id}".encode(), digest_size=8
            ).digest()
            self._entries.append((key, self.size, len(line)))
        self._handle.write(line)
        self.size += len(line)

    def __exit__(self, exc_type: object, *exc: object) -> None:
        self._handle.close()
        if exc_type is not None or not self.size:
            self._tmp.unlink(missing_ok=True)
            return
        if self._order is None:
            os.replace(self._tmp, self.path)
            return
        self._entries.sort()
        shuffled = self.path.with_suffix(".shuffling")
        with (
            open(self._tmp, "rb") as source,
            mmap.mmap(source.fileno(), 0, access=mmap.ACCESS_READ) as view,
            open(shuffled, "wb", buffering=1 << 20) as target,
        ):
            for _, offset, length in self._entries:
                target.write(view[offset : offset + length])
        os.replace(shuffled, self.path)
        self._tmp.unlink(missing_ok=True)


def iter_jsonl(path: Path) -> Iterator[bytes]:
    """Non-empty lines of a JSONL file, streamed."""
    with open(path, "rb") as handle:
        for raw in handle:
            line = raw.rstrip(b"\r\n")
            if line.strip():
                yield line
