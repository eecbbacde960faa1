"""Label and field selectors, parsed once and matched against wire-form objects."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from . import errors

Matcher = Callable[[dict[str, Any]], bool]

_SET = re.compile(r"^\s*([^\s!=()]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")


def _split_top(expr: str) -> list[str]:
    parts, depth, cur = [], 0, ""
    for ch in expr:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur)
    return [p.strip() for p in parts if p.strip()]


Req = Callable[[dict[str, str]], bool]


def _in(k: str, vs: set[str], want: bool) -> Req:
    return lambda lb: (lb.get(k) in vs) == want


def _eq(k: str, v: str, want: bool) -> Req:
    return lambda lb: (lb.get(k) == v) == want


def _has(k: str, want: bool) -> Req:
    return lambda lb: (k in lb) == want


def label_selector(expr: str | None) -> Matcher | None:
    if not expr:
        return None
    reqs: list[Req] = []
    equal: list[tuple[str, str]] = []
    for part in _split_top(expr):
        m = _SET.match(part)
        if m:
            key, op, vals = m.group(1), m.group(2), {v.strip() for v in m.group(3).split(",")}
            reqs.append(_in(key, vals, op == "in"))
            continue
        if "!=" in part:
            k, v = (s.strip() for s in part.split("!=", 1))
            reqs.append(_eq(k, v, False))
        elif "==" in part or "=" in part:
            k, v = (s.strip() for s in re.split("==?", part, maxsplit=1))
            reqs.append(_eq(k, v, True))
            equal.append((k, v))
        elif part.startswith("!"):
            reqs.append(_has(part[1:].strip(), False))
        elif re.match(r"^[A-Za-z0-9_./-]+$", part):
            reqs.append(_has(part, True))
        else:
            raise errors.bad_request(f"unable to parse requirement: invalid label selector {part!r}")

    def match(obj: dict[str, Any]) -> bool:
        labels = obj["metadata"].get("labels") or {}
        for r in reqs:
            if not r(labels):
                return False
        return True
    match.equalities = equal  # type: ignore[attr-defined]  # lets the store use its index
    return match


def _field_value(obj: dict[str, Any], path: str) -> str:
    cur: Any = obj
    for p in path.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(p)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


def field_selector(expr: str | None) -> Matcher | None:
    if not expr:
        return None
    reqs: list[tuple[str, str, bool]] = []
    for part in _split_top(expr):
        if "!=" in part:
            k, v = part.split("!=", 1)
            reqs.append((k.strip(), v.strip(), False))
        elif "=" in part:
            k, v = re.split("==?", part, maxsplit=1)
            reqs.append((k.strip(), v.strip(), True))
        else:
            raise errors.bad_request(f'invalid selector: \'{expr}\'; can\'t understand \'{part}\'')

    def match(obj: dict[str, Any]) -> bool:
        return all((_field_value(obj, k) == v) == eq for k, v, eq in reqs)
    return match


def match_labels(selector: dict[str, str] | None, labels: dict[str, str] | None) -> bool:
    """A Service/ReplicationController style map selector (empty selects nothing here)."""
    if not selector:
        return False
    labels = labels or {}
    return all(labels.get(k) == v for k, v in selector.items())


def match_label_selector(sel: dict[str, Any] | None, labels: dict[str, str] | None) -> bool:
    """A metav1.LabelSelector (matchLabels + matchExpressions)."""
    if sel is None:
        return False
    labels = labels or {}
    for k, v in (sel.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in sel.get("matchExpressions") or []:
        k, op, vals = e.get("key"), e.get("operator"), e.get("values") or []
        if op == "In" and labels.get(k) not in vals:
            return False
        if op == "NotIn" and k in labels and labels[k] in vals:
            return False
        if op == "Exists" and k not in labels:
            return False
        if op == "DoesNotExist" and k in labels:
            return False
    return True
