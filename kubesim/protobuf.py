"""Decode Kubernetes protobuf request bodies (``application/vnd.kubernetes.protobuf``) to JSON form.

kubectl's typed clients (``kubectl create namespace``, ``kubectl create deployment``,
``kubectl run``, ``kubectl expose``) send protobuf. Field numbers come from ``proto.json``.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import json
import struct
from pathlib import Path
from typing import Any

from . import errors

MAGIC = b"k8s\x00"
CONTENT_TYPE = "application/vnd.kubernetes.protobuf"
META = "k8s.io.apimachinery.pkg.apis.meta.v1."
GROUP_PKG = {"": "k8s.io.api.core.v1.", "apps": "k8s.io.api.apps.v1.",
             "discovery.k8s.io": "k8s.io.api.discovery.v1.",
             "autoscaling": "k8s.io.api.autoscaling.v1.", "meta.k8s.io": META,
             "networking.k8s.io": "k8s.io.api.networking.v1."}


@functools.cache
def messages() -> dict[str, dict[str, list[str]]]:
    return json.loads(Path(__file__).with_name("proto.json").read_text())


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        if i >= len(buf):
            raise ValueError("truncated varint")
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7


def _fields(buf: bytes) -> list[tuple[int, int, Any]]:
    out = []
    i = 0
    v: Any
    while i < len(buf):
        key, i = _varint(buf, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _varint(buf, i)
        elif wt == 1:
            v, i = buf[i:i + 8], i + 8
        elif wt == 2:
            n, i = _varint(buf, i)
            v, i = buf[i:i + n], i + n
        elif wt == 5:
            v, i = buf[i:i + 4], i + 4
        else:
            raise ValueError(f"unsupported wire type {wt}")
        out.append((num, wt, v))
    return out


def _signed(v: int, bits: int = 64) -> int:
    return v - (1 << bits) if v >= 1 << (bits - 1) else v


def _scalar(typ: str, wt: int, v: Any) -> Any:
    if typ == "string":
        return bytes(v).decode("utf-8")
    if typ == "bytes":
        return base64.b64encode(bytes(v)).decode()
    if typ == "bool":
        return bool(v)
    if typ in ("int32", "int64"):
        return _signed(v, 64)
    if typ in ("uint32", "uint64"):
        return v
    if typ == "double":
        return struct.unpack("<d", v)[0]
    if typ == "float":
        return struct.unpack("<f", v)[0]
    raise ValueError(typ)


def _time(msg: dict[str, Any], micro: bool) -> str:
    if not msg.get("seconds") and not msg.get("nanos"):
        return ""
    t = dt.datetime.fromtimestamp(msg.get("seconds", 0), dt.timezone.utc)
    if micro:
        t = t.replace(microsecond=msg.get("nanos", 0) // 1000)
        return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def decode_message(name: str, buf: bytes) -> Any:
    if name in (META + "Time", META + "MicroTime"):
        raw = decode_plain(name, buf)
        return _time(raw, name.endswith("MicroTime"))
    if name == "k8s.io.apimachinery.pkg.util.intstr.IntOrString":
        raw = decode_plain(name, buf)
        return raw.get("strVal", "") if raw.get("type") == 1 else raw.get("intVal", 0)
    if name == "k8s.io.apimachinery.pkg.api.resource.Quantity":
        return decode_plain(name, buf).get("string", "")
    if name in ("k8s.io.apimachinery.pkg.runtime.RawExtension", META + "FieldsV1"):
        raws = [bytes(v) for num, _, v in _fields(buf) if num == 1]
        return json.loads(raws[0]) if raws and raws[0] else {}
    return decode_plain(name, buf)


def decode_plain(name: str, buf: bytes) -> dict[str, Any]:
    spec = messages().get(name)
    if spec is None:
        raise ValueError(f"unknown protobuf message {name}")
    out: dict[str, Any] = {}
    for num, wt, v in _fields(buf):
        f = spec.get(str(num))
        if f is None:
            continue
        jname, typ, label = f
        if label == "map":
            entry = {n: (w, x) for n, w, x in _fields(bytes(v))}
            k = entry.get(1)
            key = bytes(k[1]).decode() if k else ""
            val = entry.get(2)
            if typ == "string" or typ == "bytes":
                value = _scalar(typ, 2, val[1]) if val else ""
            elif typ in messages() or "." in typ:
                value = decode_message(typ, bytes(val[1]) if val else b"")
            else:
                value = _scalar(typ, val[0], val[1]) if val else 0
            out.setdefault(jname, {})[key] = value
            continue
        if typ in messages() or (typ not in ("string", "bytes", "bool", "int32", "int64",
                                             "uint32", "uint64", "double", "float")):
            value = decode_message(typ, bytes(v))
        elif wt == 2 and typ not in ("string", "bytes"):
            # packed repeated scalars
            vals, j, b = [], 0, bytes(v)
            while j < len(b):
                x, j = _varint(b, j)
                vals.append(_scalar(typ, 0, x))
            out.setdefault(jname, []).extend(vals)
            continue
        else:
            value = _scalar(typ, wt, v)
        if label == "repeated":
            out.setdefault(jname, []).append(value)
        else:
            out[jname] = value
    for jname in INLINE.intersection(out):  # `json:",inline"` members: their fields, flattened
        inner = out.pop(jname)
        if isinstance(inner, dict):
            out.update(inner)
    return out


# Go struct members embedded with `json:",inline"` that protobuf carries as a nested message.
INLINE = {"ingressRuleValue"}


def decode(body: bytes) -> dict[str, Any]:
    """An enveloped object (``k8s\\x00`` + runtime.Unknown) to its JSON-form dict."""
    if not body.startswith(MAGIC):
        raise errors.bad_request("protobuf body without the k8s envelope")
    try:
        unknown = decode_plain("k8s.io.apimachinery.pkg.runtime.Unknown", body[len(MAGIC):])
        tm = unknown.get("typeMeta") or {}
        api_version, kind = tm.get("apiVersion", ""), tm.get("kind", "")
        group = api_version.rpartition("/")[0] if "/" in api_version else ""
        pkg = GROUP_PKG.get(group)
        if pkg is None:
            raise ValueError(f"no protobuf schema for {api_version}")
        if kind == "DeleteOptions":
            pkg = META
        raw = base64.b64decode(unknown.get("raw", ""))
        obj = decode_message(pkg + kind, raw)
    except (ValueError, KeyError, UnicodeDecodeError, struct.error) as e:
        raise errors.bad_request(f"unable to decode the protobuf body: {e}") from e
    obj = {"apiVersion": api_version, "kind": kind, **_prune(obj)}
    return obj


# Pointer fields in the Go types: protobuf carries them only when set, so a zero value is meant.
_KEEP_ZERO = {"replicas", "allocateLoadBalancerNodePorts", "automountServiceAccountToken",
              "enableServiceLinks", "ready", "serving", "terminating", "gracePeriodSeconds",
              "orphanDependents", "privileged", "runAsNonRoot", "optional",
              "revisionHistoryLimit"}


def _prune(v: Any, key: str = "") -> Any:
    """Drop the zero values Go's protobuf encoding writes for unset non-pointer fields, as JSON's
    omitempty would."""
    if isinstance(v, dict):
        out = {}
        for k, x in v.items():
            x = _prune(x, k)
            if x is None:
                continue
            out[k] = x
        return out if out or key in ("", "metadata", "spec", "emptyDir", "data") else None
    if isinstance(v, list):
        items = [x for x in (_prune(x, key + "[]") for x in v) if x is not None]
        return items or None
    if v == "" or (v is False or v == 0) and key not in _KEEP_ZERO:
        return None
    return v
