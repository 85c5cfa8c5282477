"""Custom ids: unique, valid for both providers (`^[a-zA-Z0-9_-]{1,64}$`), and signed.

A custom id is `<workflow code><20 random base32 chars>-<22-char HMAC>`. The HMAC covers the id body
and the manifest facts it was issued for (tenant, workflow, item, attempt), keyed by
`BATCH_PIPELINES_CUSTOM_ID_SECRET` (or a secret generated once under the home). On ingest a line is
attributed only if its id is in the manifest, its signature matches that row, and the row belongs to
the batch being ingested: a forged, altered or swapped id is attributed to no one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Sequence
from functools import cache

from batch_pipelines.core.workflows import declaration
from batch_pipelines.db.settings import DeploymentConfigError, home_dir, in_deployment

SECRET_ENV = "BATCH_PIPELINES_CUSTOM_ID_SECRET"
PATTERN = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_B32 = "abcdefghijklmnopqrstuvwxyz234567"


@cache
def _secret_from_home() -> bytes:
    path = home_dir() / "custom_id_secret"
    if not path.exists():
        # O_EXCL: when two processes race, one creates it and the other reads the winner's.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32))
    value = path.read_text().strip()
    if len(value) < 32:
        raise RuntimeError(f"{path} holds no usable secret; delete it to generate a new one")
    return value.encode()


def secret() -> bytes:
    from_env = os.environ.get(SECRET_ENV)
    if from_env:
        return from_env.encode()
    if in_deployment():  # each machine would generate its own, and reject the others' ids
        raise DeploymentConfigError(SECRET_ENV, "a secret generated under the home")
    return _secret_from_home()


def _signature(
    body: str, tenant_id: str, workflow: str, item_id: str, attempt: int, key: bytes | None = None
) -> str:
    message = "\x1f".join((body, tenant_id, workflow, item_id, str(attempt))).encode("utf-8")
    digest = hmac.digest(secret() if key is None else key, message, hashlib.sha256)
    return base64.urlsafe_b64encode(digest).decode("ascii")[:_SIGNATURE_LENGTH]


_BODY_CHARS = 20  # random base32 characters: 100 bits
_BODY_BYTES = 15  # 120 random bits encode to 24 base32 characters; the first 20 are kept


def _random_bodies(count: int) -> list[str]:
    """`count` strings of 20 independent, uniformly random characters of `_B32`.

    RFC 4648 base32 maps each 5 bits to `A-Z2-7`, the alphabet of `_B32` in the same order, so the
    lowered encoding of random bytes is uniform over `_B32`; one system call serves many ids."""
    encoded = base64.b32encode(secrets.token_bytes(_BODY_BYTES * count)).decode("ascii").lower()
    step = _BODY_BYTES * 8 // 5
    return [encoded[i : i + _BODY_CHARS] for i in range(0, step * count, step)]


def new_custom_id(tenant_id: str, workflow: str, item_id: str, attempt: int) -> str:
    return new_custom_ids(workflow, [(tenant_id, item_id, attempt)])[0]


def new_custom_ids(workflow: str, requests: Sequence[tuple[str, str, int]]) -> list[str]:
    """`new_custom_id` for many (tenant_id, item_id, attempt) of one workflow, in order."""
    code = declaration(workflow).id_code  # UnknownWorkflow for an undeclared one
    key = secret()
    return [
        f"{body}-{_signature(body, tenant_id, workflow, item_id, attempt, key)}"
        for body, (tenant_id, item_id, attempt) in zip(
            (code + r for r in _random_bodies(len(requests))), requests, strict=True
        )
    ]


_SIGNATURE_LENGTH = 22


def is_well_formed(custom_id: str) -> bool:
    return (
        bool(PATTERN.fullmatch(custom_id))
        and len(custom_id) > _SIGNATURE_LENGTH + 1
        and custom_id[-_SIGNATURE_LENGTH - 1] == "-"
    )


def signature_matches(
    custom_id: str, tenant_id: str, workflow: str, item_id: str, attempt: int
) -> bool:
    """True if `custom_id` was issued for exactly this tenant, workflow, item and attempt."""
    if not is_well_formed(custom_id):
        return False
    # The signature is base64url and may itself contain '-': split by length, not by character.
    body, signature = custom_id[: -_SIGNATURE_LENGTH - 1], custom_id[-_SIGNATURE_LENGTH:]
    expected = _signature(body, tenant_id, workflow, item_id, attempt)
    return hmac.compare_digest(signature, expected)
