"""Checks shared by the adapters' parsers of provider usage objects: counts must be non-negative
ints, required fields present. A usage that fails them is a provider defect the line reports."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def mapping(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"{where} must be a mapping, got {type(value).__name__}")
    return value


def count(value: object, key: str, where: str) -> int:
    if type(value) is not int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ValueError(f"{where}: {key} must be an int, got {type(value).__name__} {value!r}")
    if value < 0:
        raise ValueError(f"{where}: {key} must not be negative, got {value}")
    return value


def required(usage: Mapping[str, Any], key: str, where: str) -> int:
    if usage.get(key) is None:
        raise ValueError(f"{where}: required field {key!r} is missing")
    return count(usage[key], key, where)


def optional(usage: Mapping[str, Any], key: str, where: str) -> int:
    value = usage.get(key)
    return 0 if value is None else count(value, key, where)


def optional_mapping(usage: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = usage.get(key)
    if value is None:
        return {}
    return mapping(value, f"{where}.{key}")


def uncached(prompt: int, cached: int, written: int, where: str) -> int:
    if cached + written > prompt:
        raise ValueError(
            f"{where}: cached ({cached}) + cache-write ({written}) tokens exceed the prompt "
            f"tokens ({prompt}) they are part of"
        )
    return prompt - cached - written
