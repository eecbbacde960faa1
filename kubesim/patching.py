"""Patch flavours the API accepts: JSON patch, merge patch, strategic merge patch, server-side apply.

Strategic merge and apply are type-directed: ``types.json`` gives the fields' types, ``ssa.json``
(from a real API server's OpenAPI) which lists merge by which keys, which are sets or atomic.
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
            strategy, key = schema.patch_strategy(model, k)
            if "merge" in strategy.split(",") and isinstance(out.get(k), list):
                if key:
                    out[k] = _merge_list(out[k], v, key, item)
                else:  # scalars (finalizers): the patch's items join the list
                    out[k] = out[k] + [x for x in v if x not in out[k]]
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


# ---- server-side apply: structured-merge-diff semantics ----
# The list and map types come from ssa.json (python -m kubesim.gen_ssa, from a real API server's
# OpenAPI v3). A field path is a tuple of fieldsV1 elements:
#   ("f:spec", "f:ports", 'k:{"port":80,"protocol":"TCP"}', "f:targetPort"), set items 'v:"x"'.
# A field set is a Python set of paths; a path in the set is owned itself (a leaf, or "." in
# fieldsV1), its prefixes only through it.

FieldPath = tuple[str, ...]
_SSA = schema.SSA
_ZERO = schema.ZERO
_KEY_DEFAULTS = schema.KEY_DEFAULTS
_MISSING: Any = object()

# what the API server strips from every manager's set (fieldmanager's stripMeta)
STRIPPED = {("f:apiVersion",), ("f:kind",), ("f:metadata",)} | {
    ("f:metadata", f"f:{k}") for k in ("name", "namespace", "creationTimestamp", "selfLink", "uid",
                                       "clusterName", "generation", "managedFields",
                                       "resourceVersion")}


def _node(typ: str | None, rel: list[str] | None, value: Any) -> tuple[str, Any]:
    """What SSA sees at a field: ("leaf", None), ("struct", model), ("map", value type),
    ("set", item type) or ("list", (item type, keys))."""
    if rel == ["atomic"]:
        return "leaf", None
    if typ is None:  # a field the schema does not know: deduced, maps granular, lists atomic
        return ("map", None) if isinstance(value, dict) else ("leaf", None)
    if typ in schema.TYPES:
        return ("leaf", None) if _SSA.get(typ, {}).get("") == ["atomic"] else ("struct", typ)
    item = schema.list_item(typ)
    if item is not None:
        if rel and rel[0] == "map":
            return "list", (item, tuple(rel[1:]))
        return ("set", item) if rel == ["set"] else ("leaf", None)
    val = schema.dict_value(typ)
    if val is not None:
        return "map", val
    return "leaf", None


def _child(kind: str, extra: Any, key: str) -> tuple[str | None, list[str] | None]:
    if kind == "struct":
        return schema.TYPES[extra].get(key), _SSA.get(extra, {}).get(key)
    return extra, None


def _item_type(kind: str, extra: Any) -> str | None:
    return extra[0] if kind == "list" else extra


def _json(v: Any) -> str:
    return json.dumps(v, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def _pe(kind: str, extra: Any, item: Any) -> str:
    """The path element of a list item: v:<value> in a set, k:{keys} in a map list."""
    if kind == "set":
        return "v:" + _json(item)
    item_type, keys = extra
    defaults = _KEY_DEFAULTS.get(item_type or "", {})
    vals = {}
    for k in keys:
        if isinstance(item, dict) and item.get(k) is not None:
            vals[k] = item[k]
        elif k in defaults:
            vals[k] = defaults[k]
    return "k:" + _json(vals)


def field_set(obj: Any, model: str | None) -> set[FieldPath]:
    """The fields a configuration sets (structured-merge-diff ToFieldSet), as owned paths."""
    out: set[FieldPath] = set()
    _to_set(obj, model, None, (), out)
    return out - STRIPPED


def _to_set(v: Any, typ: str | None, rel: list[str] | None, path: FieldPath,
            out: set[FieldPath]) -> None:
    kind, extra = _node(typ, rel, v)
    if kind == "leaf":
        out.add(path)
        return
    if kind in ("struct", "map"):
        if not isinstance(v, dict):
            return
        for k, x in v.items():
            ctyp, crel = _child(kind, extra, k)
            cp = path + ("f:" + k,)
            _to_set(x, ctyp, crel, cp, out)
            if x is None or x == {} or kind == "map" or ctyp is None:
                out.add(cp)
        return
    if not isinstance(v, list):
        return
    seen: dict[str, int] = {}
    for x in v:
        pe = _pe(kind, extra, x)
        seen[pe] = seen.get(pe, 0) + 1
    for x in v:
        pe = _pe(kind, extra, x)
        if seen[pe] > 1:
            out.add(path + (pe,))
            continue
        _to_set(x, _item_type(kind, extra), None, path + (pe,), out)
        out.add(path + (pe,))


def duplicate_entry(obj: Any, model: str | None) -> str | None:
    """`.spec.ports: duplicate entries for key [port=80,protocol="TCP"]` for the first item an
    applied configuration repeats in a map or set list (the API server cannot type it)."""
    return _duplicate(obj, model, None, ())


def _duplicate(v: Any, typ: str | None, rel: list[str] | None, path: FieldPath) -> str | None:
    kind, extra = _node(typ, rel, v)
    if kind in ("struct", "map") and isinstance(v, dict):
        for k, x in v.items():
            ctyp, crel = _child(kind, extra, k)
            found = _duplicate(x, ctyp, crel, path + ("f:" + k,))
            if found:
                return found
    elif kind in ("list", "set") and isinstance(v, list):
        seen: set[str] = set()
        for x in v:
            pe = _pe(kind, extra, x)
            if pe in seen:
                return f"{path_text(path)}: duplicate entries for key {path_text((pe,))}"
            seen.add(pe)
            found = _duplicate(x, _item_type(kind, extra), None, path + (pe,))
            if found:
                return found
    return None


def _empty(v: Any) -> bool:
    return v is None or v is _MISSING or v == {} or v == []


def compare(old: Any, new: Any, model: str | None) -> tuple[set[FieldPath], set[FieldPath],
                                                             set[FieldPath]]:
    """(added, modified, removed) paths from old to new (structured-merge-diff Compare): a map
    or list that appears is itself added (a "." in fieldsV1), besides its contents."""
    added: set[FieldPath] = set()
    modified: set[FieldPath] = set()
    removed: set[FieldPath] = set()
    _compare(old, new, model, None, (), added, modified, removed)
    return added, modified, removed


def _compare(lv: Any, rv: Any, typ: str | None, rel: list[str] | None, path: FieldPath,
             added: set[FieldPath], modified: set[FieldPath], removed: set[FieldPath]) -> None:
    kind, extra = _node(typ, rel, rv if isinstance(rv, (dict, list)) else lv)
    if kind == "leaf" or (_empty(lv) and _empty(rv)):
        if lv is _MISSING:
            added.add(path)
        elif rv is _MISSING:
            removed.add(path)
        elif lv != rv:
            modified.add(path)
        return
    if kind in ("struct", "map"):
        lm = lv if isinstance(lv, dict) else {}
        rm = rv if isinstance(rv, dict) else {}
        for k in list(lm) + [k for k in rm if k not in lm]:
            ctyp, crel = _child(kind, extra, k)
            _compare(lm.get(k, _MISSING), rm.get(k, _MISSING), ctyp, crel, path + ("f:" + k,),
                     added, modified, removed)
    else:
        li = _index(kind, extra, lv)
        ri = _index(kind, extra, rv)
        item = _item_type(kind, extra)
        for pe in list(li) + [pe for pe in ri if pe not in li]:
            _compare(li.get(pe, _MISSING), ri.get(pe, _MISSING), item, None, path + (pe,),
                     added, modified, removed)
    if lv is _MISSING:
        added.add(path)
    elif rv is _MISSING:
        removed.add(path)


def _index(kind: str, extra: Any, v: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for x in v if isinstance(v, list) else []:
        out.setdefault(_pe(kind, extra, x), x)
    return out


def merge(live: Any, config: Any, model: str | None) -> Any:
    """The applied configuration merged into the live object (structured-merge-diff Merge):
    scalars and atomic fields are replaced, maps merge by key, map and set lists by item."""
    return _merge(live, config, model, None)


def _merge(lv: Any, rv: Any, typ: str | None, rel: list[str] | None) -> Any:
    if rv is _MISSING:
        return lv
    if lv is _MISSING or lv is None or rv is None:
        return copy.deepcopy(rv)
    kind, extra = _node(typ, rel, rv)
    if kind == "leaf":
        return copy.deepcopy(rv)
    if kind in ("struct", "map"):
        if not isinstance(lv, dict) or not isinstance(rv, dict):
            return copy.deepcopy(rv)
        out = dict(lv)
        for k, x in rv.items():
            if x is None:
                out.pop(k, None)
                continue
            ctyp, crel = _child(kind, extra, k)
            out[k] = _merge(lv.get(k, _MISSING), x, ctyp, crel)
        return out
    if not isinstance(lv, list) or not isinstance(rv, list):
        return copy.deepcopy(rv)
    li, ri = _index(kind, extra, lv), _index(kind, extra, rv)
    item = _item_type(kind, extra)
    return [_merge(li.get(pe, _MISSING), ri.get(pe, _MISSING), item, None)
            for pe in merge_order(list(li), list(ri))]


def merge_order(left: list[str], right: list[str]) -> list[str]:
    """The order of a merged list: the live items, with the applied ones placed as the applied
    list orders them (an applied item the live list lacks goes before the next shared one)."""
    rset, lset = set(right), set(left)
    shared = [pe for pe in right if pe in lset]
    nxt_i = 0

    def advance() -> str | None:
        nonlocal nxt_i
        nxt_i += 1
        return shared[nxt_i] if nxt_i < len(shared) else None

    nxt = shared[0] if shared else None
    out: list[str] = []
    done: set[str] = set()
    i = j = 0
    while i < len(left) or j < len(right):
        if i < len(left) and j < len(right):
            if left[i] == right[j]:
                out.append(left[i])
                done.add(left[i])
                i, j = i + 1, j + 1
                nxt = advance()
                continue
            if left[i] in rset and nxt is not None and nxt != left[i]:
                i += 1  # a shared item the applied list wants later
                continue
        if i < len(left):
            if left[i] not in rset:
                out.append(left[i])
                i += 1
                continue
            if left[i] in done:
                i += 1
        if j < len(right):
            pe = right[j]
            done.add(pe)
            out.append(pe)
            j += 1
            if nxt is not None and nxt == pe:
                nxt = advance()
    return out


def _tree(paths: set[FieldPath]) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for p in paths:
        node = root
        for part in p:
            node = node.setdefault(part, {})
        node["."] = {}
    return root


def remove(obj: Any, paths: set[FieldPath], model: str | None) -> Any:
    """The object without those fields (a list item or map path removes all under it)."""
    if not paths:
        return obj
    out = _prune(obj, model, None, _tree(paths))
    return {} if out is _MISSING else out


def _prune(v: Any, typ: str | None, rel: list[str] | None, tree: dict[str, Any]) -> Any:
    kind, extra = _node(typ, rel, v)
    if kind in ("struct", "map") and isinstance(v, dict):
        out = {}
        for k, x in v.items():
            sub = tree.get("f:" + k)
            if sub is None:
                out[k] = x
            elif "." not in sub:
                ctyp, crel = _child(kind, extra, k)
                nx = _prune(x, ctyp, crel, sub)
                if nx is not _MISSING:
                    out[k] = nx
        return out if out else _MISSING
    if kind in ("list", "set") and isinstance(v, list):
        items = []
        for x in v:
            sub = tree.get(_pe(kind, extra, x))
            if sub is None:
                items.append(x)
            elif "." not in sub:
                nx = _prune(x, _item_type(kind, extra), None, sub)
                items.append({} if nx is _MISSING else nx)
        return items if items else _MISSING
    return v


def with_named_parents(paths: set[FieldPath], model: str | None) -> set[FieldPath]:
    """Every struct field on the way to an owned path counts as owned too (structured-merge-diff
    EnsureNamedFieldsAreMembers), so pruning never drops a struct someone still uses."""
    out = set(paths)
    for p in paths:
        typ: str | None = model
        rel: list[str] | None = None
        for i, el in enumerate(p[:-1]):
            kind, extra = _node(typ, rel, {} if typ is None else None)
            if kind == "struct":
                name = el[2:]
                if el.startswith("f:") and name in schema.TYPES[extra]:
                    out.add(p[:i + 1])
                typ, rel = _child(kind, extra, name)
            elif kind == "map":
                typ, rel = extra, None
            elif kind in ("list", "set"):
                typ, rel = _item_type(kind, extra), None
            else:
                break
    return out


def zero(model: str) -> dict[str, Any]:
    """What a Go zero value of the model encodes: required fields (null) and non-pointer structs
    (their own zero). A create's ownership is the comparison with it."""
    out: dict[str, Any] = {}
    for f, z in _ZERO.get(model, {}).items():
        typ = schema.TYPES.get(model, {}).get(f)
        out[f] = zero(typ) if z == {} and typ in schema.TYPES else None
    return out


def without(paths: set[FieldPath], prefixes: set[FieldPath]) -> set[FieldPath]:
    """The paths outside those subtrees (the fields a subresource's strategy resets)."""
    return {p for p in paths if not any(p[:len(q)] == q for q in prefixes)}


# ---- managedFields ----

def from_fields(fields: dict[str, Any] | None, prefix: FieldPath = ()) -> set[FieldPath]:
    out: set[FieldPath] = set()
    for k, v in (fields or {}).items():
        if k == ".":
            out.add(prefix)
            continue
        p = prefix + (k,)
        if not v:
            out.add(p)
        else:
            out |= from_fields(v, p)
    return out


def to_fields(paths: set[FieldPath]) -> dict[str, Any]:
    """fieldsV1: a member with children gets a "." entry; keys in the API server's order."""
    def encode(node: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        kids = {k: v for k, v in node.items() if k != "\x00"}
        if "\x00" in node and kids:
            out["."] = {}
        for k in sorted(kids):
            out[k] = encode(kids[k])
        return out

    root: dict[str, Any] = {}
    for p in paths:
        node = root
        for part in p:
            node = node.setdefault(part, {})
        node["\x00"] = True
    return encode(root)


def _value_text(v: Any) -> str:
    return json.dumps(v, ensure_ascii=False) if isinstance(v, str) else _json(v)


def path_text(p: FieldPath) -> str:
    """`.spec.ports[port=80,protocol="TCP"].targetPort` as conflict messages print a path."""
    out = ""
    for part in p:
        if part.startswith("f:"):
            out += "." + part[2:]
        elif part.startswith("k:"):
            keys = json.loads(part[2:])
            out += "[" + ",".join(f"{k}={_value_text(v)}" for k, v in keys.items()) + "]"
        elif part.startswith("v:"):
            out += "[=" + _value_text(json.loads(part[2:])) + "]"
        elif part.startswith("i:"):
            out += "[" + part[2:] + "]"
    return out


def _pe_order(part: str) -> tuple[Any, ...]:
    rank = {"f": 0, "k": 1, "v": 2, "i": 3}.get(part[:1], 4)
    if rank in (1, 2):
        val = json.loads(part[2:])
        items = sorted(val.items()) if isinstance(val, dict) else [("", val)]
        return (rank, [(k, isinstance(x, str), x if isinstance(x, (int, float, str)) else
                        _json(x)) for k, x in items])
    return (rank, part[2:])


def ordered(paths: set[FieldPath]) -> list[FieldPath]:
    """A set's paths in the order the API server iterates them: at each level the owned
    members first, then the deeper paths, each sorted by path element."""
    tree = _tree(paths)
    out: list[FieldPath] = []

    def walk(node: dict[str, Any], prefix: FieldPath) -> None:
        kids = sorted((k for k in node if k != "."), key=_pe_order)
        for k in kids:
            if "." in node[k]:
                out.append(prefix + (k,))
        for k in kids:
            if set(node[k]) - {"."}:
                walk(node[k], prefix + (k,))

    walk(tree, ())
    return out


class ApplyConflicts(Exception):
    """Fields other managers own that an apply would change: (their entry, path) pairs."""

    def __init__(self, conflicts: list[tuple[dict[str, Any], FieldPath]]) -> None:
        super().__init__(f"{len(conflicts)} conflicts")
        self.conflicts = conflicts


def manager_id(e: dict[str, Any]) -> str:
    """The API server's identifier of a managedFields entry (BuildManagerIdentifier): its
    manager, operation, API version (Update only) and subresource, as JSON in field order."""
    ident: dict[str, Any] = {"manager": e.get("manager", ""), "operation": e.get("operation", "")}
    if e.get("operation") != "Apply" and e.get("apiVersion"):
        ident["apiVersion"] = e["apiVersion"]
    if e.get("subresource"):
        ident["subresource"] = e["subresource"]
    return json.dumps(ident, separators=(",", ":"))


def _decode(entries: list[dict[str, Any]]) -> dict[str, tuple[dict[str, Any], set[FieldPath]]]:
    out: dict[str, tuple[dict[str, Any], set[FieldPath]]] = {}
    for e in entries or []:
        out[manager_id(e)] = (dict(e), from_fields(e.get("fieldsV1")))
    return out


def _encode(managed: dict[str, tuple[dict[str, Any], set[FieldPath]]]) -> list[dict[str, Any]]:
    return managed_entries(list(managed.values()))


def managed_entries(sets: list[tuple[dict[str, Any], set[FieldPath]]]) -> list[dict[str, Any]]:
    """managedFields entries for those sets (empty ones left out), in the API server's order:
    Apply before Update, then by time (whole seconds), manager, API version, subresource."""
    out = []
    for e, s in sets:
        if not s:
            continue
        e = dict(e)
        e["fieldsType"] = "FieldsV1"
        e["fieldsV1"] = to_fields(s)
        out.append(e)
    out.sort(key=lambda e: (e.get("operation", ""), (e.get("time") or "")[:19],
                            e.get("manager", ""), e.get("apiVersion", ""),
                            e.get("subresource", "")))
    return [{k: e[k] for k in ("manager", "operation", "apiVersion", "time", "fieldsType",
                               "fieldsV1", "subresource") if k in e} for e in out]


def managed_update(entries: list[dict[str, Any]], old: dict[str, Any] | None,
                   new: dict[str, Any], model: str, manager: str, api_version: str, now: str,
                   subresource: str = "", reset: set[FieldPath] | frozenset[FieldPath] =
                   frozenset()) -> list[dict[str, Any]]:
    """managedFields after an Update operation (create, update, non-apply patch): the manager
    takes every field it added or changed, from everyone; removed fields leave every set.
    ``old`` None is a create, compared with the kind's zero value."""
    managed = _decode(entries)
    added, modified, removed = compare(zero(model) if old is None else old, new, model)
    taken = without(added | modified, set(reset))
    removed = without(removed, set(reset))
    for key, (e, s) in managed.items():
        managed[key] = (e, s - taken - removed)
    mine = taken - STRIPPED
    if mine:
        entry = {"manager": manager, "operation": "Update", "apiVersion": api_version}
        if subresource:
            entry["subresource"] = subresource
        key = manager_id(entry)
        prev = managed.get(key, (entry, set()))[1]
        managed[key] = (dict(entry, time=now), prev | mine)
    return _encode(managed)


def server_side_apply(live: dict[str, Any], config: dict[str, Any], model: str, manager: str,
                      api_version: str, now: str, force: bool = False, subresource: str = "",
                      reset: set[FieldPath] | frozenset[FieldPath] = frozenset()) -> tuple[
                          dict[str, Any], list[dict[str, Any]]]:
    """Apply a configuration to a live object (structured-merge-diff Updater.Apply): merge it,
    remove what this manager applied last time and nobody owns any more, then check that no
    field another manager owns changes (ApplyConflicts) unless forced, which takes them.
    Returns the new object (before defaulting) and its managedFields."""
    managed = _decode(live.get("metadata", {}).get("managedFields") or [])
    entry: dict[str, Any] = {"manager": manager, "operation": "Apply", "apiVersion": api_version}
    if subresource:
        entry["subresource"] = subresource
    key = manager_id(entry)
    old_entry, last = managed.get(key, ({}, set()))
    applied = without(field_set(config, model), set(reset))
    if "time" in old_entry:
        entry["time"] = old_entry["time"]
    managed[key] = (entry, applied)
    merged = merge(live, config, model)
    if last:
        owned: set[FieldPath] = set()
        for _, s in managed.values():
            owned |= s
        gone = with_named_parents(last, model) - with_named_parents(owned, model)
        merged = remove(merged, without(gone, set(reset)), model)
    added, modified, removed = compare(live, merged, model)
    changed = without(added | modified, set(reset))
    removed = without(removed, set(reset))
    conflicts: list[tuple[dict[str, Any], FieldPath]] = []
    for k in sorted(managed):
        if k == key:
            continue
        e, s = managed[k]
        conflicts += [(e, p) for p in ordered(s & changed)]
    if conflicts and not force:
        raise ApplyConflicts(conflicts)
    for k, (e, s) in managed.items():
        if k != key:
            managed[k] = (e, s - changed - removed)
    if merged != live:
        managed[key] = (dict(entry, time=now), applied)
    return merged, _encode(managed)


def conflict_message(conflicts: list[tuple[dict[str, Any], FieldPath]]) -> str:
    """The 409's message: one conflict inline, more grouped by manager (sorted by identifier)."""
    if len(conflicts) == 1:
        e, p = conflicts[0]
        return f"Apply failed with 1 conflict: conflict with {manager_text(e)}: {path_text(p)}"
    by: dict[str, list[FieldPath]] = {}
    who: dict[str, dict[str, Any]] = {}
    for e, p in conflicts:
        by.setdefault(manager_id(e), []).append(p)
        who[manager_id(e)] = e
    lines = []
    for k in sorted(by):
        lines.append(f"conflicts with {manager_text(who[k])}:")
        lines += [f"- {path_text(p)}" for p in by[k]]
    return f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)


def manager_text(e: dict[str, Any]) -> str:
    """`"kubectl" with subresource "scale" using apps/v1` as conflicts name a manager."""
    out = json.dumps(e.get("manager", ""))
    if e.get("subresource"):
        out += f' with subresource {json.dumps(e["subresource"])}'
    if e.get("operation") == "Update":
        out += f" using {e.get('apiVersion', '')}"
    return out
