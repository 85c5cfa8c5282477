"""Custom ids (`batch_pipelines.batching.custom_ids`): their shape, randomness and signature,
one at a time and issued in bulk."""

from __future__ import annotations

import base64
import re
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from batch_pipelines.batching import custom_ids
from batch_pipelines.core.workflows import UnknownWorkflow, declarations
from batch_pipelines.db.tables import CUSTOM_ID_PATTERN

_ID = re.compile(r"^(pc|ls|kb)[a-z2-7]{20}-[A-Za-z0-9_-]{22}$")
_text = st.text(st.characters(codec="utf-8"), min_size=1, max_size=40)
_requests = st.lists(st.tuples(_text, _text, st.integers(1, 9)), min_size=1, max_size=30)
_workflows = st.sampled_from([w.name for w in declarations()])


def test_the_rfc_base32_alphabet_is_ours_in_the_same_order() -> None:
    # Ids are random bytes in base32 (RFC 4648), lowered: uniform over `_B32` only if this holds.
    # The first character of a byte's encoding is its top 5 bits.
    assert (
        "".join(base64.b32encode(bytes([n << 3])).decode()[0].lower() for n in range(32))
        == custom_ids._B32
    )


@settings(max_examples=100, deadline=None)
@given(_workflows, _requests)
def test_bulk_ids_are_well_formed_distinct_and_signed_for_their_request(
    workflow: str, requests: list[tuple[str, str, int]]
) -> None:
    ids = custom_ids.new_custom_ids(workflow, requests)
    assert len(ids) == len(requests) == len(set(ids))
    for cid, (tenant, item, attempt) in zip(ids, requests, strict=True):
        assert _ID.fullmatch(cid) and re.fullmatch(CUSTOM_ID_PATTERN, cid)
        assert custom_ids.PATTERN.fullmatch(cid) and len(cid) <= 64
        assert custom_ids.is_well_formed(cid)
        assert custom_ids.signature_matches(cid, tenant, workflow, item, attempt)
        assert not custom_ids.signature_matches(cid, tenant, workflow, item, attempt + 1)
        assert not custom_ids.signature_matches(cid, tenant + "x", workflow, item, attempt)


@settings(max_examples=50, deadline=None)
@given(_text, _text, st.integers(1, 9))
def test_one_id_is_signed_like_a_bulk_one(tenant: str, item: str, attempt: int) -> None:
    cid = custom_ids.new_custom_id(tenant, "post_call", item, attempt)
    assert cid.startswith("pc") and _ID.fullmatch(cid)
    assert custom_ids.signature_matches(cid, tenant, "post_call", item, attempt)


def test_id_bodies_use_every_character_about_equally_often() -> None:
    ids = custom_ids.new_custom_ids("post_call", [("t", f"i{n}", 1) for n in range(2000)])
    counts = Counter("".join(cid[2:22] for cid in ids))
    assert set(counts) == set(custom_ids._B32)
    expected = 2000 * 20 / 32  # 1250 per character; a fair draw stays well within +-20%
    assert all(0.8 * expected < n < 1.2 * expected for n in counts.values()), counts


def test_an_undeclared_workflow_gets_no_custom_id() -> None:
    with pytest.raises(UnknownWorkflow, match="'toy' is not declared"):
        custom_ids.new_custom_ids("toy", [("acme", "item-1", 1)])
