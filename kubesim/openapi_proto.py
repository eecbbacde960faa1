"""``/openapi/v2`` in protobuf: the gnostic ``openapi.v2.Document`` message kubectl asks for
(``Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf``; only kubectl explain
--output=plaintext-openapiv2 does, see README "/openapi/v2").

Encodes the JSON document ``schema.openapi_v2()`` builds. Field numbers are those of gnostic's
openapiv2/OpenAPIv2.proto; only what kubesim's document holds is encoded: definitions with
their properties, types, formats, refs, items, additionalProperties, required and vendor
extensions (as YAML, which is how kube-openapi reads them), and paths with their operations'
ids, consumed types and vendor extensions.
"""

from __future__ import annotations

import json
from typing import Any

MEDIA_TYPE = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
CONTENT_TYPE = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _bytes(field: int, data: bytes) -> bytes:
    return _varint(field << 3 | 2) + _varint(len(data)) + data


def _str(field: int, s: str) -> bytes:
    return _bytes(field, s.encode()) if s else b""


def _bool(field: int, b: bool) -> bytes:
    return _varint(field << 3) + b"\x01" if b else b""


def _any(field: int, value: Any) -> bytes:
    """An extension's or default's value: gnostic's Any {yaml = 2} (JSON is YAML)."""
    return _bytes(field, _str(2, json.dumps(value, separators=(",", ":"))))


def _extensions(field: int, obj: dict[str, Any]) -> bytes:
    return b"".join(_bytes(field, _str(1, k) + _any(2, v))
                    for k, v in obj.items() if k.startswith("x-"))


def schema(s: dict[str, Any]) -> bytes:
    """openapi.v2.Schema"""
    out = _str(1, s.get("$ref", "")) + _str(2, s.get("format", "")) + \
        _str(4, s.get("description", ""))
    if "default" in s:
        out += _any(5, s["default"])
    out += b"".join(_str(19, r) for r in s.get("required") or [])
    ap = s.get("additionalProperties")
    if isinstance(ap, dict):
        out += _bytes(21, _bytes(1, schema(ap)))
    elif isinstance(ap, bool):
        out += _bytes(21, _bool(2, ap) or b"\x10\x00")
    if s.get("type"):
        types = s["type"] if isinstance(s["type"], list) else [s["type"]]
        out += _bytes(22, b"".join(_str(1, t) for t in types))
    if isinstance(s.get("items"), dict):
        out += _bytes(23, _bytes(1, schema(s["items"])))
    if s.get("properties"):
        out += _bytes(25, b"".join(_bytes(1, _str(1, k) + _bytes(2, schema(v)))
                                   for k, v in s["properties"].items()))
    return out + _extensions(31, s)


def _operation(op: dict[str, Any]) -> bytes:
    """openapi.v2.Operation (id, consumed types, vendor extensions)"""
    return _str(3, op.get("description", "")) + _str(5, op.get("operationId", "")) + \
        b"".join(_str(7, c) for c in op.get("consumes") or []) + _extensions(13, op)


_VERBS = {"get": 2, "put": 3, "post": 4, "delete": 5, "options": 6, "head": 7, "patch": 8}


def document(doc: dict[str, Any]) -> bytes:
    """openapi.v2.Document"""
    info = doc.get("info") or {}
    paths = b"".join(
        _bytes(2, _str(1, p) + _bytes(2, b"".join(
            _bytes(_VERBS[verb], _operation(op)) for verb, op in item.items() if verb in _VERBS)))
        for p, item in (doc.get("paths") or {}).items())
    defs = b"".join(_bytes(1, _str(1, name) + _bytes(2, schema(s)))
                    for name, s in (doc.get("definitions") or {}).items())
    return _str(1, doc.get("swagger", "2.0")) + \
        _bytes(2, _str(1, info.get("title", "")) + _str(2, info.get("version", ""))) + \
        _bytes(8, paths) + _bytes(9, defs)
