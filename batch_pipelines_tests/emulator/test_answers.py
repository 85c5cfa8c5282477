"""Deterministic answers: JSON Schema generation, malformed content, token estimate, vectors."""

from __future__ import annotations

import random

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator, FormatChecker

from batch_pipelines.emulator import answers

WORD = st.text(alphabet="abcdefghij", min_size=1, max_size=6)

LEAVES = st.one_of(
    st.lists(WORD, min_size=1, max_size=4, unique=True).map(
        lambda v: {"type": "string", "enum": v}
    ),
    st.tuples(st.integers(-50, 50), st.integers(0, 100)).map(
        lambda t: {"type": "integer", "minimum": t[0], "maximum": t[0] + t[1]}
    ),
    st.tuples(st.integers(-50, 50), st.integers(1, 100)).map(
        lambda t: {"type": "number", "exclusiveMinimum": t[0], "exclusiveMaximum": t[0] + t[1]}
    ),
    st.tuples(st.integers(0, 10), st.integers(0, 40)).map(
        lambda t: {"type": "string", "minLength": t[0], "maxLength": t[0] + t[1]}
    ),
    st.sampled_from(
        [
            {"type": "boolean"},
            {"type": "null"},
            {"type": "string", "format": "date-time"},
            {"type": "string", "format": "date"},
            {"type": "string", "format": "email"},
            {"type": "string", "format": "uuid"},
            {"type": "string", "pattern": r"^[A-Z]{3}-\d{2}$"},
            {"type": "string", "pattern": "^(yes|no|maybe)$"},
            {"type": "integer", "minimum": 0, "maximum": 100, "multipleOf": 5},
            {"type": "number", "minimum": 0, "maximum": 1},
            {"type": ["string", "null"]},
            {"anyOf": [{"type": "integer", "minimum": 3}, {"type": "null"}]},
            {"const": "fixed"},
        ]
    ),
)


def _object(props: dict) -> dict:
    return {
        "type": "object",
        "properties": props,
        "required": list(props),
        "additionalProperties": False,
    }


SCHEMAS = st.recursive(
    LEAVES,
    lambda children: st.one_of(
        st.dictionaries(
            st.from_regex(r"[a-z]{1,8}", fullmatch=True), children, min_size=1, max_size=4
        ).map(_object),
        st.tuples(children, st.integers(0, 3), st.integers(0, 3)).map(
            lambda t: {"type": "array", "items": t[0], "minItems": t[1], "maxItems": t[1] + t[2]}
        ),
    ),
    max_leaves=12,
)
OBJECT_SCHEMAS = st.dictionaries(
    st.sampled_from(["a", "b", "c", "d", "e"]), st.one_of(LEAVES, SCHEMAS), min_size=1, max_size=3
).map(_object)


@settings(max_examples=100, deadline=None)
@given(schema=SCHEMAS, seed=st.integers(0, 2**32))
def test_generated_answers_are_valid_against_arbitrary_schemas(schema, seed):
    value = answers.schema_answer(schema, random.Random(seed))
    errors = list(Draft202012Validator(schema, format_checker=FormatChecker()).iter_errors(value))
    assert not errors, (schema, value, errors[0].message)


@settings(max_examples=60, deadline=None)
@given(schema=OBJECT_SCHEMAS, seed=st.integers(0, 2**32))
def test_malformed_answers_are_never_valid_against_object_schemas(schema, seed):
    rng = random.Random(seed)
    value = answers.schema_answer(schema, rng)
    text = answers.malformed_json_text(schema, value, rng)
    try:
        parsed = orjson.loads(text)
    except orjson.JSONDecodeError:
        return
    assert not Draft202012Validator(schema).is_valid(parsed), (schema, text)


def test_refs_defs_all_of_and_recursive_schemas_are_supported():
    schema = {
        "type": "object",
        "$defs": {
            "node": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "children": {"type": "array", "items": {"$ref": "#/$defs/node"}},
                },
                "required": ["name", "children"],
                "additionalProperties": False,
            }
        },
        "properties": {
            "tree": {"$ref": "#/$defs/node"},
            "merged": {"allOf": [{"type": "integer", "minimum": 10}, {"maximum": 12}]},
            "tags": {
                "type": "array",
                "items": {"enum": ["a", "b", "c"]},
                "minItems": 3,
                "uniqueItems": True,
            },
        },
        "required": ["tree", "merged", "tags"],
        "additionalProperties": False,
    }
    for seed in range(20):
        value = answers.schema_answer(schema, random.Random(seed))
        assert Draft202012Validator(schema).is_valid(value), value


def test_same_rng_seed_gives_the_same_answer():
    schema = {
        "type": "object",
        "properties": {"x": {"type": "string"}, "n": {"type": "number"}},
        "required": ["x", "n"],
    }
    first = answers.schema_answer(schema, answers.request_rng({"a": 1}))
    assert first == answers.schema_answer(schema, answers.request_rng({"a": 1}))


@pytest.mark.parametrize(
    ("text", "expected"), [("", 0), ("abcd", 1), ("abcde", 2), ("é", 1), ("日本語です", 4)]
)
def test_token_estimate_is_utf8_bytes_over_four_rounded_up(text, expected):
    assert answers.tokens(text) == expected


def test_embedding_vectors_are_deterministic_unit_vectors():
    first = answers.embedding_vector("text-embedding-3-small", "hello", 64)
    assert first.shape == (64,) and abs(float(np.linalg.norm(first)) - 1) < 1e-5
    assert np.array_equal(first, answers.embedding_vector("text-embedding-3-small", "hello", 64))
    assert not np.array_equal(
        first, answers.embedding_vector("text-embedding-3-small", "hellp", 64)
    )
    assert answers.default_embedding_dimensions("text-embedding-3-large") == 3072


def test_rolls_are_deterministic_and_roughly_uniform():
    rolls = [answers.roll(1, "x", i) for i in range(2000)]
    assert rolls == [answers.roll(1, "x", i) for i in range(2000)]
    assert 0.45 < sum(rolls) / len(rolls) < 0.55
    assert not answers.chance(0.0, 1, "x") and answers.chance(1.0, 1, "x")
