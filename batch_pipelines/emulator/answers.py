"""Deterministic answers, token estimates and fault rolls for the emulator.

Token estimate (documented, deterministic, provider-independent):

- `tokens(text) = ceil(len(text.encode("utf-8")) / 4)`: one token per 4 UTF-8 bytes, rounded up.
- Anything that is not plain text (tool definitions, JSON schemas, tool_use / tool_result blocks,
  assistant tool calls) counts as the tokens of its canonical JSON (sorted keys, no spaces).
- Images count a flat 85 tokens (OpenAI) / 1,600 tokens (Anthropic).
- OpenAI chat: `prompt_tokens = tokens(canonical JSON of {tools, response_format})` when either
  is present, `+ 4 + tokens(content)` per message, `+ 3` for the reply priming.
  `completion_tokens = tokens(answer text or tool-call arguments)`, at least 1.
- OpenAI embeddings: `tokens(text)` per string input, `len(ids)` per token-id input.
- Anthropic: `tokens(canonical JSON of the tool)` per tool, `tokens(text)` per system block,
  `tokens(...)` per message content block plus 3 per message; `output_tokens = tokens(answer)`.

Answers are derived from a hash of the request body (canonical JSON), so the same request gives
the same answer, whatever the batch or the emulator's seed.
"""

from __future__ import annotations

import base64
import hashlib
import math
import random
import re
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import orjson

try:  # Python 3.11+
    import re._constants as _sre_constants
    import re._parser as _sre_parse
except ImportError:  # pragma: no cover
    import sre_constants as _sre_constants  # type: ignore[no-redef]
    import sre_parse as _sre_parse  # type: ignore[no-redef]

MAX_DEPTH = 6
WORDS = (
    "customer",
    "agent",
    "booking",
    "follow",
    "up",
    "pricing",
    "schedule",
    "callback",
    "appointment",
    "question",
    "answer",
    "positive",
    "neutral",
    "request",
    "service",
    "quote",
    "invoice",
    "visit",
    "clinic",
    "viewing",
    "property",
    "salon",
    "lead",
    "interest",
    "budget",
    "timeline",
    "priority",
    "summary",
    "detail",
    "confirmed",
    "pending",
    "offer",
    "discount",
    "contact",
    "email",
    "phone",
    "reminder",
    "review",
    "feedback",
    "issue",
    "resolved",
    "next",
    "step",
    "team",
    "account",
    "plan",
)

EMBEDDING_DIMENSIONS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}


# ---------------------------------------------------------------- hashing and tokens


def canonical(value: Any) -> bytes:
    """Canonical JSON bytes (sorted keys, compact)."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)


def digest(*parts: Any) -> bytes:
    data = b"\x1f".join(p if isinstance(p, bytes) else str(p).encode() for p in parts)
    return hashlib.blake2b(data, digest_size=16).digest()


def stable_int(*parts: Any) -> int:
    return int.from_bytes(digest(*parts)[:8], "big")


def roll(seed: int, *parts: Any) -> float:
    """A deterministic number in [0, 1) for (seed, parts): the basis of every fault decision."""
    return stable_int("roll", seed, *parts) / 2.0**64


def chance(rate: float, seed: int, *parts: Any) -> bool:
    """True with probability `rate`, decided by hashing (seed, parts); free when rate is 0."""
    return rate > 0 and roll(seed, *parts) < rate


def tokens(text: str) -> int:
    return (len(text.encode("utf-8")) + 3) // 4


def json_tokens(value: Any) -> int:
    return (len(canonical(value)) + 3) // 4


class Rng(random.Random):
    """`random.Random` with `choice`/`randint` built on the C-level `random()` (3x cheaper)."""

    def choice(self, seq: Any) -> Any:
        return seq[int(self.random() * len(seq))]

    def randint(self, a: int, b: int) -> int:
        return a + int(self.random() * (b - a + 1))


def request_rng(body: Any) -> Rng:
    return Rng(stable_int("answer", canonical(body)))


# ---------------------------------------------------------------- text


def _phrases(count: int, variants: int = 97) -> list[str]:
    rng = random.Random(count)
    return [" ".join(rng.choice(WORDS) for _ in range(count)) for _ in range(variants)]


_PHRASES: list[list[str]] = [[]] + [_phrases(n) for n in range(1, 25)]


def words(rng: random.Random, count: int) -> str:
    count = max(1, count)
    if count < len(_PHRASES):
        return rng.choice(_PHRASES[count])
    return " ".join(rng.choice(WORDS) for _ in range(count))


def text_answer(rng: random.Random) -> str:
    return f"Emulated answer: {words(rng, rng.randint(8, 24))}."


def truncate_to_tokens(text: str, max_tokens: int) -> str:
    data = text.encode("utf-8")[: max(0, max_tokens) * 4]
    return data.decode("utf-8", errors="ignore")


# ---------------------------------------------------------------- JSON Schema answers


Gen = Callable[[random.Random, int], Any]


class SchemaCompiler:
    """Compiles a JSON Schema into a generator of values valid against it.

    Supported: type (incl. lists), enum, const, $ref (local), $defs/definitions, anyOf/oneOf,
    allOf (merged), properties/required/additionalProperties/minProperties, items/prefixItems,
    minItems/maxItems/uniqueItems, minLength/maxLength/pattern/format, minimum/maximum,
    exclusiveMinimum/exclusiveMaximum (draft 4 and 2020-12 forms), multipleOf. Recursive schemas
    stop growing at depth 6 (optional keys dropped, arrays at minItems, nullable branches null).
    Compiled once per distinct schema (cached), so a 50,000-line batch pays for it once.
    """

    def __init__(self, root: Any) -> None:
        self.root = root
        self._compiled: dict[int, Gen] = {}
        self._keep: list[Any] = []

    def resolve(self, schema: Any, seen: int = 0) -> Any:
        while isinstance(schema, dict) and "$ref" in schema and seen < 32:
            ref = schema["$ref"]
            target = _resolve_pointer(self.root, ref) if isinstance(ref, str) else None
            rest = {k: v for k, v in schema.items() if k != "$ref"}
            schema = {**target, **rest} if isinstance(target, dict) and rest else target
            if schema is None:
                return {}
            seen += 1
        return schema

    def compile(self, schema: Any) -> Gen:
        key = id(schema)
        found = self._compiled.get(key)
        if found is not None:
            return found
        cell: list[Gen] = []
        self._compiled[key] = lambda rng, depth: cell[0](rng, depth)  # recursion placeholder
        self._keep.append(schema)
        built = self._build(schema)
        cell.append(built)
        self._compiled[key] = built
        return built

    def _build(self, schema: Any) -> Gen:
        schema = self.resolve(schema)
        if schema is True or schema is None or schema == {}:
            return lambda rng, depth: words(rng, 2)
        if schema is False or not isinstance(schema, dict):
            return lambda rng, depth: None
        if "const" in schema:
            const = schema["const"]
            return lambda rng, depth: const
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            options = list(schema["enum"])
            return lambda rng, depth: rng.choice(options)
        if isinstance(schema.get("allOf"), list):
            merged = _merge_all_of(self, schema)
            self._keep.append(merged)
            return self.compile(merged)
        for key in ("anyOf", "oneOf"):
            options = schema.get(key)
            if isinstance(options, list) and options:
                return self._build_choice(schema, key, options)
        kind = schema.get("type")
        if isinstance(kind, list):
            non_null = [k for k in kind if k != "null"]
            if not non_null:
                return lambda rng, depth: None
            gens = [self._build_type({**schema, "type": k}, k) for k in non_null]
            nullable = "null" in kind

            def pick_type(rng: random.Random, depth: int) -> Any:
                if nullable and depth >= MAX_DEPTH:
                    return None
                return rng.choice(gens)(rng, depth)

            return pick_type
        return self._build_type(schema, kind or _infer_type(schema))

    def _build_choice(self, schema: dict, key: str, options: list) -> Gen:
        resolved = [self.resolve(o) for o in options]
        non_null = [o for o in resolved if not _is_null_schema(o)] or resolved
        nullable = len(non_null) < len(resolved)
        rest = {k: v for k, v in schema.items() if k not in ("anyOf", "oneOf")}
        branches = []
        for option in non_null:
            if rest and isinstance(option, dict):
                option = {**rest, **option}
                self._keep.append(option)
            branches.append(self.compile(option))

        def choose(rng: random.Random, depth: int) -> Any:
            if nullable and depth >= MAX_DEPTH:
                return None
            return rng.choice(branches)(rng, depth)

        return choose

    def _build_type(self, schema: dict, kind: str) -> Gen:
        if kind == "null":
            return lambda rng, depth: None
        if kind == "boolean":
            return lambda rng, depth: rng.random() < 0.5
        if kind == "integer":
            return _integer_gen(schema)
        if kind == "number":
            return _number_gen(schema)
        if kind == "array":
            return self._array_gen(schema)
        if kind == "object":
            return self._object_gen(schema)
        if kind == "string":
            return _string_gen(schema)
        return lambda rng, depth: words(rng, 2)

    def _array_gen(self, schema: dict) -> Gen:
        prefix = schema.get("prefixItems")
        items = schema.get("items")
        if isinstance(items, list):  # draft 4 tuple form
            prefix, items = items, schema.get("additionalItems", {})
        prefix = prefix if isinstance(prefix, list) else []
        lo = int(schema.get("minItems", 0) or 0)
        hi_raw = schema.get("maxItems")
        hi = int(hi_raw) if isinstance(hi_raw, (int, float)) else max(lo, 3)
        lower = min(max(lo, 1), hi)
        upper = max(min(hi, max(lo, 3)), lower)
        prefix_gens = [self.compile(p) for p in prefix]
        item_gen = self.compile(items if items is not None and items is not False else {})
        closed = items is False
        unique = bool(schema.get("uniqueItems"))

        def gen(rng: random.Random, depth: int) -> list:
            count = lo if depth >= MAX_DEPTH else rng.randint(lower, upper)
            if closed:
                count = min(count, len(prefix_gens))
            result: list = []
            seen: set[bytes] = set()
            attempts = 0
            while len(result) < count and attempts < count * 8 + 8:
                attempts += 1
                index = len(result)
                sub = prefix_gens[index] if index < len(prefix_gens) else item_gen
                value = sub(rng, depth + 1)
                if unique:
                    marker = canonical(value)
                    if marker in seen:
                        continue
                    seen.add(marker)
                result.append(value)
            return result

        return gen

    def _object_gen(self, schema: dict) -> Gen:
        props = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
        required = {r for r in schema.get("required", []) if isinstance(r, str)}
        extra = schema.get("additionalProperties", True)
        extra_gen = self.compile(extra if isinstance(extra, dict) else {})
        fields = [(name, name in required, self.compile(sub)) for name, sub in props.items()]
        missing = [name for name in schema.get("required", []) if name not in props]
        min_props = int(schema.get("minProperties", 0) or 0)
        wanted = max(min_props, 1 if not props and isinstance(extra, dict) else 0)
        open_object = extra is not False

        def gen(rng: random.Random, depth: int) -> dict:
            out: dict[str, Any] = {}
            for name, needed, sub in fields:
                if needed or (depth < MAX_DEPTH - 2 and rng.random() < 0.75):
                    out[name] = sub(rng, depth + 1)
            for name in missing:
                out[name] = extra_gen(rng, depth + 1)
            if open_object:
                index = 1
                while len(out) < wanted:
                    out[f"key_{index}"] = extra_gen(rng, depth + 1)
                    index += 1
            return out

        return gen


def _integer_gen(schema: dict) -> Gen:
    lo, hi = _numeric_bounds(schema, integer=True)
    multiple = schema.get("multipleOf")
    if isinstance(multiple, (int, float)) and multiple > 0:
        k_lo, k_hi = math.ceil(lo / multiple), math.floor(hi / multiple)
        if k_lo <= k_hi:
            return lambda rng, depth: int(rng.randint(k_lo, k_hi) * multiple)
    lo, hi = int(lo), int(hi)
    if lo > hi:
        return lambda rng, depth: lo
    return lambda rng, depth: rng.randint(lo, hi)


def _number_gen(schema: dict) -> Gen:
    lo, hi = _numeric_bounds(schema, integer=False)
    multiple = schema.get("multipleOf")
    if isinstance(multiple, (int, float)) and multiple > 0:
        k_lo, k_hi = math.ceil(lo / multiple), math.floor(hi / multiple)
        if k_lo <= k_hi:

            def multiple_gen(rng: random.Random, depth: int) -> float | int:
                value = rng.randint(k_lo, k_hi) * multiple
                return int(value) if float(value).is_integer() else value

            return multiple_gen

    def gen(rng: random.Random, depth: int) -> float:
        value = round(rng.uniform(lo, hi), 2)
        return value if lo <= value <= hi else lo

    return gen


def _string_gen(schema: dict) -> Gen:
    min_len = int(schema.get("minLength", 0) or 0)
    max_raw = schema.get("maxLength")
    max_len = int(max_raw) if isinstance(max_raw, (int, float)) else None
    pattern = schema.get("pattern") if isinstance(schema.get("pattern"), str) else None
    fmt = schema.get("format") if isinstance(schema.get("format"), str) else None

    def gen(rng: random.Random, depth: int) -> str:
        text = _string_for_pattern(pattern, rng) if pattern else None
        if text is None and fmt:
            text = _string_for_format(fmt, rng)
        if text is None:
            text = words(rng, rng.randint(2, 8))
        if max_len is not None and len(text) > max_len:
            text = text[:max_len].rstrip() or text[:max_len]
        if len(text) < min_len:
            filler = " " + words(rng, min_len)
            while len(text) < min_len:
                text += filler
            if max_len is not None:
                text = text[:max_len]
        return text

    return gen


_COMPILED: dict[bytes, Gen] = {}


def compile_schema(schema: Any) -> Gen:
    """The generator for `schema`, compiled once per distinct schema (canonical JSON)."""
    key = canonical(schema)
    gen = _COMPILED.get(key)
    if gen is None:
        gen = SchemaCompiler(schema).compile(schema)
        if len(_COMPILED) > 1024:
            _COMPILED.clear()
        _COMPILED[key] = gen
    return gen


def schema_answer(schema: Any, rng: random.Random) -> Any:
    """A value valid against `schema`, drawn with `rng`."""
    return compile_schema(schema)(rng, 0)


def _resolve_pointer(root: Any, ref: str) -> Any:
    if not ref.startswith("#"):
        return None
    node = root
    for raw in ref[1:].split("/")[1:] if ref != "#" else []:
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def _is_null_schema(schema: Any) -> bool:
    return isinstance(schema, dict) and (
        schema.get("type") == "null" or schema.get("const", 0) is None
    )


def _infer_type(schema: dict) -> str:
    if any(k in schema for k in ("properties", "required", "additionalProperties")):
        return "object"
    if any(k in schema for k in ("items", "prefixItems", "minItems", "maxItems")):
        return "array"
    if any(k in schema for k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")):
        return "number"
    return "string"


def _merge_all_of(answerer: SchemaCompiler, schema: dict) -> dict:
    merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
    for part in schema["allOf"]:
        part = answerer.resolve(part)
        if not isinstance(part, dict):
            continue
        for key, value in part.items():
            if key == "properties" and isinstance(value, dict):
                merged["properties"] = {**merged.get("properties", {}), **value}
            elif key == "required" and isinstance(value, list):
                merged["required"] = list(dict.fromkeys([*merged.get("required", []), *value]))
            elif key in ("minimum", "minLength", "minItems", "exclusiveMinimum") and key in merged:
                merged[key] = max(merged[key], value)
            elif key in ("maximum", "maxLength", "maxItems", "exclusiveMaximum") and key in merged:
                merged[key] = min(merged[key], value)
            else:
                merged.setdefault(key, value)
    return merged


def _numeric_bounds(schema: dict, *, integer: bool) -> tuple[float, float]:
    step = 1 if integer else 0.01
    lo = schema.get("minimum")
    hi = schema.get("maximum")
    ex_lo = schema.get("exclusiveMinimum")
    ex_hi = schema.get("exclusiveMaximum")
    if ex_lo is True and lo is not None:
        lo = lo + step
    elif isinstance(ex_lo, (int, float)) and not isinstance(ex_lo, bool):
        lo = ex_lo + step if lo is None else max(lo, ex_lo + step)
    if ex_hi is True and hi is not None:
        hi = hi - step
    elif isinstance(ex_hi, (int, float)) and not isinstance(ex_hi, bool):
        hi = ex_hi - step if hi is None else min(hi, ex_hi - step)
    if lo is None and hi is None:
        lo, hi = 0, 100
    elif lo is None:
        lo = hi - 100
    elif hi is None:
        hi = lo + 100
    if integer:
        lo, hi = math.ceil(lo), math.floor(hi)
    return lo, hi


_FORMAT_BASE = 1_767_225_600  # 2026-01-01T00:00:00Z


def _string_for_format(fmt: str, rng: random.Random) -> str | None:
    if fmt in ("date-time", "date", "time"):
        moment = time.gmtime(_FORMAT_BASE + rng.randint(0, 365 * 86400))
        pattern = {"date-time": "%Y-%m-%dT%H:%M:%SZ", "date": "%Y-%m-%d", "time": "%H:%M:%SZ"}[fmt]
        return time.strftime(pattern, moment)
    if fmt == "email":
        return f"{rng.choice(WORDS)}.{rng.choice(WORDS)}@example.com"
    if fmt in ("uri", "url", "iri"):
        return f"https://example.com/{rng.choice(WORDS)}/{rng.randint(1, 999)}"
    if fmt == "uuid":
        return str(_uuid_from(rng))
    if fmt == "hostname":
        return f"{rng.choice(WORDS)}.example.com"
    if fmt == "ipv4":
        return ".".join(str(rng.randint(1, 254)) for _ in range(4))
    if fmt == "ipv6":
        return ":".join(f"{rng.randint(0, 65535):x}" for _ in range(8))
    if fmt == "duration":
        return f"PT{rng.randint(1, 59)}M"
    return None


def _uuid_from(rng: random.Random) -> str:
    import uuid

    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _string_for_pattern(pattern: str, rng: random.Random) -> str | None:
    try:
        parsed = _sre_parse.parse(pattern)
        for _ in range(5):
            text = _gen_regex(list(parsed), rng)
            if re.search(pattern, text):
                return text
    except (re.error, RecursionError, ValueError, TypeError, OverflowError):
        return None
    return None


_C = _sre_constants
_CATEGORY_CHARS = {
    _C.CATEGORY_DIGIT: "0123456789",
    _C.CATEGORY_WORD: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_",
    _C.CATEGORY_SPACE: " ",
    _C.CATEGORY_NOT_DIGIT: "abcxyz",
    _C.CATEGORY_NOT_WORD: "-. ",
    _C.CATEGORY_NOT_SPACE: "abc123",
}


def _gen_regex(items: list, rng: random.Random) -> str:
    out: list[str] = []
    for op, arg in items:
        if op is _C.LITERAL:
            out.append(chr(arg))
        elif op is _C.NOT_LITERAL:
            out.append("a" if chr(arg) != "a" else "b")
        elif op is _C.ANY:
            out.append(rng.choice("abcxyz"))
        elif op is _C.IN:
            out.append(_gen_in(arg, rng))
        elif op in (_C.MAX_REPEAT, _C.MIN_REPEAT, getattr(_C, "POSSESSIVE_REPEAT", None)):
            lo, hi, sub = arg
            hi = lo + 3 if hi is _C.MAXREPEAT else hi
            for _ in range(rng.randint(lo, max(lo, min(hi, lo + 3)))):
                out.append(_gen_regex(list(sub), rng))
        elif op is _C.SUBPATTERN:
            out.append(_gen_regex(list(arg[-1]), rng))
        elif op is _C.BRANCH:
            out.append(_gen_regex(list(rng.choice(arg[1])), rng))
        elif op is _C.AT:
            continue
        else:
            raise ValueError(f"unsupported regex op {op}")
    return "".join(out)


def _gen_in(arg: list, rng: random.Random) -> str:
    if arg and arg[0][0] is _C.NEGATE:
        excluded = set()
        for op, value in arg[1:]:
            if op is _C.LITERAL:
                excluded.add(chr(value))
            elif op is _C.RANGE:
                excluded.update(chr(c) for c in range(value[0], value[1] + 1))
        for candidate in "abcxyzABC019_-":
            if candidate not in excluded:
                return candidate
        raise ValueError("negated class too wide")
    op, value = rng.choice(arg)
    if op is _C.LITERAL:
        return chr(value)
    if op is _C.RANGE:
        return chr(rng.randint(value[0], value[1]))
    if op is _C.CATEGORY:
        return rng.choice(_CATEGORY_CHARS.get(value, "a"))
    raise ValueError(f"unsupported class op {op}")


# ---------------------------------------------------------------- malformed answers


def malformed_json_text(schema: Any, value: Any, rng: random.Random) -> str:
    """JSON text for `value` made invalid against `schema`: broken JSON or a schema violation."""
    if rng.random() < 0.5:
        text = orjson.dumps(value).decode()
        return text[: max(0, len(text) // 2)]
    violated, ok = violate_schema(schema, value)
    if not ok:
        text = orjson.dumps(value).decode()
        return text[: max(0, len(text) // 2)]
    return orjson.dumps(violated).decode()


def violate_schema(schema: Any, value: Any) -> tuple[Any, bool]:
    """Return (value', True) where value' is invalid against `schema`, or (value, False)."""
    answerer = SchemaCompiler(schema)
    resolved = answerer.resolve(schema)
    if not isinstance(resolved, dict):
        return value, False
    if isinstance(value, dict):
        props = resolved.get("properties") or {}
        # 1. an out-of-range number or a value outside an enum
        for name, sub in props.items():
            sub = answerer.resolve(sub)
            if name not in value or not isinstance(sub, dict):
                continue
            if isinstance(sub.get("maximum"), (int, float)):
                return {**value, name: sub["maximum"] + 1000}, True
            if isinstance(sub.get("minimum"), (int, float)):
                return {**value, name: sub["minimum"] - 1000}, True
            if isinstance(sub.get("enum"), list) and sub["enum"]:
                return {**value, name: "__not_an_allowed_value__"}, True
        # 2. a missing required key
        for name in resolved.get("required", []):
            if name in value:
                return {k: v for k, v in value.items() if k != name}, True
        # 3. a wrong type for a typed property
        for name, sub in props.items():
            sub = answerer.resolve(sub)
            if name in value and isinstance(sub, dict) and isinstance(sub.get("type"), str):
                wrong = {"string": 12345, "integer": "twelve", "number": "twelve"}.get(
                    sub["type"], "wrong-type"
                )
                if sub["type"] != "string" or wrong != value[name]:
                    return {**value, name: wrong}, True
        if resolved.get("additionalProperties") is False:
            return {**value, "__unexpected_key__": True}, True
        return value, False
    if resolved.get("type") in ("object", "array", "integer", "number", "boolean"):
        return "not-the-requested-type", True
    return value, False


# ---------------------------------------------------------------- embeddings


def default_embedding_dimensions(model: str) -> int:
    for name, dims in EMBEDDING_DIMENSIONS.items():
        if model.startswith(name):
            return dims
    return 1536


def embedding_key(value: Any) -> bytes:
    if isinstance(value, str):
        return b"s:" + value.encode("utf-8")
    return b"t:" + canonical(value)


def embedding_vector(model: str, value: Any, dimensions: int) -> np.ndarray:
    """A deterministic unit vector (float32) for (model, input, dimensions)."""
    seed = stable_int("embedding", model, dimensions, embedding_key(value))
    vector = np.random.default_rng(seed).standard_normal(dimensions)
    vector /= np.linalg.norm(vector)
    return vector.astype(np.float32)


def embedding_base64(vector: np.ndarray) -> str:
    return base64.b64encode(vector.astype("<f4").tobytes()).decode("ascii")
