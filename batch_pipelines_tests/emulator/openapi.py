"""Validate emulator answers against the official OpenAI OpenAPI schemas (reference copy here).

`reference/openai-batch-openapi.json` is a Files+Batches subset of github.com/openai/openai-openapi
(MIT, see `reference/LICENSE-openai-openapi`). It is OpenAPI 3.1 but a few schemas still carry the
3.0 keyword `nullable: true` (e.g. `BatchRequestOutput.response`): it is honoured by turning
`{"type": T, "nullable": true}` into `{"type": [T, "null"]}` before validating.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC_PATH = Path(__file__).parent / "reference" / "openai-batch-openapi.json"
SPEC_URI = "urn:openai-batch-openapi"


def _nullable(node: Any) -> Any:
    if isinstance(node, dict):
        node = {k: _nullable(v) for k, v in node.items()}
        if node.pop("nullable", False) and isinstance(node.get("type"), str):
            node["type"] = [node["type"], "null"]
        return node
    if isinstance(node, list):
        return [_nullable(v) for v in node]
    return node


@cache
def _registry() -> Registry:
    spec = _nullable(json.loads(SPEC_PATH.read_text()))
    return Registry().with_resource(SPEC_URI, Resource.from_contents(spec, DRAFT202012))


@cache
def validator(name: str) -> Draft202012Validator:
    schema = {"$ref": f"{SPEC_URI}#/components/schemas/{name}"}
    return Draft202012Validator(schema, registry=_registry())


def schema_names() -> list[str]:
    return sorted(json.loads(SPEC_PATH.read_text())["components"]["schemas"])


def assert_valid(obj: Any, name: str) -> None:
    """Raise AssertionError listing every violation of the named reference schema."""
    errors = sorted(validator(name).iter_errors(copy.deepcopy(obj)), key=lambda e: list(e.path))
    assert not errors, f"{name}: " + "; ".join(
        f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in errors[:10]
    )
