"""Validates our responses against the component schemas of the official OpenAI OpenAPI document.

The document (MIT, openai/openai-openapi) is a test fixture copied into this repository. OpenAPI's
``nullable: true`` is rewritten to JSON Schema's ``null`` type so Draft 2020-12 validation is faithful.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC_PATH = Path(__file__).parent.parent / "fixtures" / "openai-openapi.yaml"
_URI = "urn:openai-openapi"


def _allow_null(node: Any) -> Any:
    if isinstance(node, list):
        return [_allow_null(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _allow_null(value) for key, value in node.items()}
    if node.pop("nullable", False):
        kind = node.get("type")
        if isinstance(kind, str):
            node["type"] = [kind, "null"]
        if "enum" in node and None not in node["enum"]:
            node["enum"] = [*node["enum"], None]
        if "$ref" in node or "anyOf" in node or "oneOf" in node or "allOf" in node:
            node = {"anyOf": [node, {"type": "null"}]}
    return node


@functools.cache
def _registry() -> Registry[Any]:
    with SPEC_PATH.open(encoding="utf-8") as handle:
        document = _allow_null(
            yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        )
    registry: Registry[Any] = Registry().with_resource(
        _URI, Resource.from_contents(document, DRAFT202012)
    )
    return registry


def validator(component: str) -> Draft202012Validator:
    return Draft202012Validator(
        {"$ref": f"{_URI}#/components/schemas/{component}"}, registry=_registry()
    )


def assert_valid(component: str, instance: Any) -> None:
    errors = sorted(validator(component).iter_errors(instance), key=lambda e: list(e.path))
    assert not errors, f"{component}: " + "; ".join(
        f"{'/'.join(map(str, e.path))}: {e.message[:200]}" for e in errors[:5]
    )
