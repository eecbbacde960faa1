"""Patch flavours the API accepts: JSON patch, merge patch, strategic merge patch, server-side apply.

Strategic merge and apply are type-directed: ``types.json`` says which lists merge by which key.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from . import errors, schema

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
APPLY = "application/apply-patch+yaml"
APPLY_CBOR = "application/apply-patch+cbor"


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


# ---- RFC 6902 ----

def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise errors.bad_request(f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _walk(doc: Any, parts: list[str]) -> Any:
    for p in parts:
        if isinstance(doc, list):
            doc = doc[int(p)]
        elif isinstance(doc, dict):
            doc = doc[p]
        else:
            raise KeyError(p)
    return doc


def json_patch(target: Any, ops: Any) -> Any:
    if not isinstance(ops, list):
        raise errors.bad_request("json patch must be a list of operations")
    doc = copy.deepcopy(target)
    for op in ops:
        try:
            kind = op["op"]
            parts = _pointer(op["path"])
            if kind == "test":
                if _walk(doc, parts) != op.get("value"):
                    raise errors.APIError(422, "Invalid",
                                          f"the server rejected our request due to an error in "
                                          f"our request: testing value {op['path']} failed")
                continue
            if kind in ("move", "copy"):
                src = _pointer(op["from"])
                value = copy.deepcopy(_walk(doc, src))
                if kind == "move":
                    doc = _remove(doc, src)
                doc = _add(doc, parts, value)
                continue
            if kind == "remove":
                doc = _remove(doc, parts)
            elif kind == "add":
                doc = _add(doc, parts, copy.deepcopy(op["value"]))
            elif kind == "replace":
                _walk(doc, parts)
                doc = _remove(doc, parts)
                doc = _add(doc, parts, copy.deepcopy(op["value"]))
            else:
                raise errors.bad_request(f"Unexpected kind: {kind}")
        except errors.APIError:
            raise
        except (KeyError, IndexError, ValueError, TypeError) as e:
            raise errors.APIError(
                422, "Invalid",
                f"the server rejected our request due to an error in our request: "
                f"doc is missing path: {op.get('path')!r}: {e}") from e
    return doc


def _add(doc: Any, parts: list[str], value: Any) -> Any:
    if not parts:
        return value
    parent = _walk(doc, parts[:-1])
    last = parts[-1]
    if isinstance(parent, list):
        if last == "-":
            parent.append(value)
        else:
            i = int(last)
            if i > len(parent):
                raise IndexError(last)
            parent.insert(i, value)
    elif isinstance(parent, dict):
        parent[last] = value
    else:
        raise KeyError(last)
    return doc


def _remove(doc: Any, parts: list[str]) -> Any:
    if not parts:
        return None
    parent = _walk(doc, parts[:-1])
    last = parts[-1]
    if isinstance(parent, list):
        parent.pop(int(last))
    else:
        del parent[last]
    return doc


# ---- strategic merge patch ----

def strategic_merge(target: Any, patch: Any, model: str | None) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if patch.get("$patch") == "delete":
        return None
    out = dict(target) if isinstance(target, dict) else {}
    retain = patch.get("$retainKeys")
    for k, v in patch.items():
        if k.startswith("$setElementOrder/") or k in ("$retainKeys", "$patch"):
            continue
        if k.startswith("$deleteFromPrimitiveList/"):
            name = k.split("/", 1)[1]
            if isinstance(out.get(name), list):
                out[name] = [x for x in out[name] if x not in v]
            continue
        if v is None:
            out.pop(k, None)
            continue
        typ = schema.field_type(model, k)
        if typ is not None and isinstance(v, list):
            item = schema.list_item(typ)
            key = schema.MERGE_KEYS.get(item or "")
            if key and isinstance(out.get(k), list):
                out[k] = _merge_list(out[k], v, key, item)
                continue
            out[k] = copy.deepcopy(v)
            continue
        if isinstance(v, dict):
            sub: str | None = None
            if typ is not None:
                sub = typ if typ in schema.TYPES else None
                dv = schema.dict_value(typ)
                if dv is not None and dv in schema.TYPES:
                    sub = None
            if typ is not None and schema.dict_value(typ) is not None:
                out[k] = merge_patch(out.get(k), v) if typ.endswith("str]") else \
                    strategic_merge(out.get(k), v, None)
            else:
                merged = strategic_merge(out.get(k), v, sub)
                if merged is None:
                    out.pop(k, None)
                else:
                    out[k] = merged
            continue
        out[k] = copy.deepcopy(v)
    if isinstance(retain, list):
        out = {k: v for k, v in out.items() if k in retain}
    return out


def _merge_list(current: list[Any], patch: list[Any], key: str, item: str | None) -> list[Any]:
    out = [copy.deepcopy(x) for x in current]
    for p in patch:
        if not isinstance(p, dict):
            continue
        if p.get("$patch") == "replace":
            return [x for x in patch if isinstance(x, dict) and x.get("$patch") != "replace"]
        idx = next((i for i, x in enumerate(out)
                    if isinstance(x, dict) and x.get(key) == p.get(key)), None)
        if p.get("$patch") == "delete":
            if idx is not None:
                out.pop(idx)
            continue
        if idx is None:
            out.append({k: v for k, v in copy.deepcopy(p).items() if v is not None})
        else:
            out[idx] = strategic_merge(out[idx], p, item)
    return out


# ---- server-side apply (field sets in the fieldsV1 format) ----

def _item_key(item: dict[str, Any], keys: tuple[str, ...]) -> str:
    vals = {}
    for k in keys:
        v = item.get(k)
        if v is None and k == "protocol":
            v = "TCP"
        vals[k] = v
    return "k:" + json.dumps(vals, separators=(",", ":"), sort_keys=True)


def _keys_for(item: str | None) -> tuple[str, ...] | None:
    if item is None or item not in schema.MERGE_KEYS:
        return None
    return schema.APPLY_KEYS.get(item, (schema.MERGE_KEYS[item],))


def field_set(obj: Any, model: str | None) -> dict[str, Any]:
    """The fieldsV1 set an applied configuration owns."""
    out: dict[str, Any] = {}
    if not isinstance(obj, dict):
        return out
    for k, v in obj.items():
        if model in schema.TYPES and k in ("apiVersion", "kind") and model != "V1ObjectReference":
            continue
        if k in ("name", "namespace", "resourceVersion", "uid") and model == "V1ObjectMeta":
            continue
        typ = schema.field_type(model, k)
        entry: dict[str, Any] = {}
        if isinstance(v, dict):
            sub = typ if typ in schema.TYPES else None
            if typ is not None and schema.dict_value(typ) is not None:
                entry = {f"f:{kk}": {} for kk in v}
            else:
                entry = field_set(v, sub)
        elif isinstance(v, list) and typ is not None:
            item = schema.list_item(typ)
            keys = _keys_for(item)
            if keys:
                for x in v:
                    if isinstance(x, dict):
                        entry[_item_key(x, keys)] = dict(field_set(x, item), **{".": {}})
        out[f"f:{k}"] = entry
    return out


def apply(current: dict[str, Any] | None, config: dict[str, Any], model: str,
          previous: dict[str, Any] | None) -> dict[str, Any]:
    """Merge an applied configuration into the live object, removing what the same manager
    applied before and no longer does."""
    if current is None:
        return copy.deepcopy(config)
    merged = _apply_merge(current, config, model)
    if previous:
        _remove_dropped(merged, previous, field_set(config, model), model)
    return merged


def _apply_merge(cur: Any, cfg: Any, model: str | None) -> Any:
    if not isinstance(cfg, dict) or not isinstance(cur, dict):
        return copy.deepcopy(cfg)
    out = dict(cur)
    for k, v in cfg.items():
        typ = schema.field_type(model, k)
        if isinstance(v, list) and typ is not None:
            item = schema.list_item(typ)
            keys = _keys_for(item)
            if keys and isinstance(out.get(k), list):
                old = {(_item_key(x, keys) if isinstance(x, dict) else None): x for x in out[k]}
                new_list = []
                for x in v:
                    ik = _item_key(x, keys) if isinstance(x, dict) else None
                    new_list.append(_apply_merge(old.pop(ik), x, item) if ik in old
                                    else copy.deepcopy(x))
                # items owned by nobody else stay (kept after the applied ones)
                new_list.extend(x for x in old.values() if x is not None)
                out[k] = new_list
                continue
            out[k] = copy.deepcopy(v)
        elif isinstance(v, dict):
            sub = typ if typ in schema.TYPES else None
            out[k] = _apply_merge(out.get(k), v, sub)
        else:
            out[k] = copy.deepcopy(v)
    return out


def _remove_dropped(obj: Any, old: dict[str, Any], new: dict[str, Any], model: str | None) -> None:
    if not isinstance(obj, dict):
        return
    for fk, sub in old.items():
        if not fk.startswith("f:"):
            continue
        name = fk[2:]
        if fk not in new:
            obj.pop(name, None)
            continue
        if not sub or name not in obj:
            continue
        typ = schema.field_type(model, name)
        val = obj[name]
        if isinstance(val, list) and typ is not None:
            item = schema.list_item(typ)
            keys = _keys_for(item)
            if keys:
                gone = {k for k in sub if k.startswith("k:") and k not in new[fk]}
                kept = []
                for x in val:
                    ik = _item_key(x, keys) if isinstance(x, dict) else None
                    if ik in gone:
                        continue
                    if ik in sub and ik in new[fk]:
                        _remove_dropped(x, sub[ik], new[fk][ik], item)
                    kept.append(x)
                obj[name] = kept
        elif isinstance(val, dict):
            if typ is not None and schema.dict_value(typ) is not None:
                for kk in sub:
                    if kk.startswith("f:") and kk not in new[fk]:
                        val.pop(kk[2:], None)
            else:
                _remove_dropped(val, sub, new[fk], typ if typ in schema.TYPES else None)


# ---- field ownership (managedFields) ----
# A field path is a tuple of fieldsV1 keys: ("f:spec", "f:ports", 'k:{"port":80,...}', "f:name").

SKIP_META = {"f:name", "f:namespace", "f:uid", "f:resourceVersion", "f:creationTimestamp",
             "f:generation", "f:managedFields", "f:deletionTimestamp",
             "f:deletionGracePeriodSeconds", "f:selfLink"}


def leaves(obj: Any, model: str | None, top: bool = True) -> dict[tuple[str, ...], Any]:
    """Every leaf field of an object (status left out) with its value."""
    out: dict[tuple[str, ...], Any] = {}
    if not isinstance(obj, dict):
        return out
    for k, v in obj.items():
        fk = f"f:{k}"
        if top and k in ("apiVersion", "kind", "status"):
            continue
        if model == "V1ObjectMeta" and fk in SKIP_META:
            continue
        typ = schema.field_type(model, k)
        if isinstance(v, dict) and v:
            sub = typ if typ in schema.TYPES else None
            for p, x in leaves(v, sub, False).items():
                out[(fk,) + p] = x
            continue
        if isinstance(v, list) and typ is not None:
            item = schema.list_item(typ)
            keys = _keys_for(item)
            if keys and all(isinstance(x, dict) for x in v):
                for x in v:
                    ik = _item_key(x, keys)
                    out[(fk, ik)] = None  # the item itself (".")
                    for p, y in leaves(x, item, False).items():
                        out[(fk, ik) + p] = y
                continue
        out[(fk,)] = v
    return out


def to_fields(paths: set[tuple[str, ...]]) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for p in sorted(paths):
        cur = root
        for part in p:
            cur = cur.setdefault(part, {})
            if part.startswith("k:"):
                cur.setdefault(".", {})
    return root


def from_fields(fields: dict[str, Any] | None, prefix: tuple[str, ...] = ()) -> set[
        tuple[str, ...]]:
    out: set[tuple[str, ...]] = set()
    for k, v in (fields or {}).items():
        if k == ".":
            out.add(prefix)
            continue
        p = prefix + (k,)
        if not v or set(v) == {"."}:
            out.add(p)
        else:
            out |= from_fields(v, p)
    return out


def path_text(p: tuple[str, ...]) -> str:
    """`.spec.replicas`, `.spec.ports[port=80,protocol="TCP"]` as conflict messages print them."""
    out = ""
    for part in p:
        if part.startswith("f:"):
            out += "." + part[2:]
        elif part.startswith("k:"):
            keys = json.loads(part[2:])
            out += "[" + ",".join(f"{k}={json.dumps(v)}" for k, v in keys.items()) + "]"
    return out
