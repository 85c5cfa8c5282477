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
from functools import cache

from batch_pipelines.db.settings import home_dir

SECRET_ENV = "BATCH_PIPELINES_CUSTOM_ID_SECRET"
PATTERN = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_WORKFLOW_CODES = {"post_call": "pc", "lead_scoring": "ls", "kb_index": "kb"}
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
    return _secret_from_home()


def _signature(body: str, tenant_id: str, workflow: str, item_id: str, attempt: int) -> str:
    message = "\x1f".join((body, tenant_id, workflow, item_id, str(attempt))).encode("utf-8")
    digest = hmac.new(secret(), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii")[:_SIGNATURE_LENGTH]


def new_custom_id(tenant_id: str, workflow: str, item_id: str, attempt: int) -> str:
    code = _WORKFLOW_CODES.get(workflow, "xx")
    body = code + "".join(secrets.choice(_B32) for _ in range(20))
    return f"{body}-{_signature(body, tenant_id, workflow, item_id, attempt)}"


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
