"""The labs and their objectives, read from checks/<lab>.yaml: data, never executed."""

from __future__ import annotations

import string
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import CheckFileError, LabError
from .messages import DEFAULT, LANGS, error
from .paths import CHECKS, MANIFESTS, shown

# Each check's parameters: required and optional. The grader implements exactly these.
CHECKS_PARAMS: dict[str, tuple[set[str], set[str]]] = {
    "deployment-ready": ({"deployment"}, {"replicas"}),
    "statefulset-ready": ({"statefulset"}, {"replicas"}),
    "pod-ready": ({"pod"}, set()),
    "service": ({"service", "type"}, set()),
    "service-port": ({"service", "port"}, {"nodePort", "protocol"}),
    "selector": ({"service"}, {"deployment", "statefulset"}),
    "endpoints": ({"service"}, {"deployment", "statefulset"}),
    "external-ips": ({"service"}, set()),
    "external-name": ({"service", "target"}, set()),
    "no-cluster-ip": ({"service"}, set()),
    "headless": ({"service"}, {"statefulset"}),
    "dns": ({"from", "service", "resolves-to"}, set()),
    "dns-records": ({"from", "service", "statefulset"}, set()),
    "dns-pod-names": ({"from", "service", "statefulset"}, set()),
    "http": ({"from", "service", "url", "served-by"}, {"requests"}),
    "http-host": ({"service", "url", "served-by"}, {"requests"}),
}
# The object each check kind says exists (the parameter naming it): an objective that fails
# because that object is missing waits for this one (labs/grading.py `blocked`).
PROVIDES: dict[str, tuple[str, str]] = {
    "deployment-ready": ("deployment", "deployment"),
    "statefulset-ready": ("statefulset", "statefulset"),
    "pod-ready": ("pod", "pod"),
    "service": ("service", "service"),
}
# Checks that judge the pods of one workload: exactly one of these keys names it.
WORKLOAD_KEYS = ("deployment", "statefulset")
ONE_WORKLOAD = {"selector", "endpoints"}
URL_FIELDS = {"clusterIP", "port", "nodePort", "nodeIP", "externalIP", "name", "namespace", "dns"}
_COMMON = {"id", "title", "check", "hint", "needs"}
TRANSLATED = ("title", "hint")  # written `title: text` (English) or `title: {en: ..., ko: ...}`

# A text in each language it is written in: {"en": ..., "ko": ...}; English is always there.
Texts = dict[str, str]


def in_lang(texts: dict[str, Texts], what: str, lang: str, english: str) -> str:
    """``what`` ("title", "hint") in ``lang``; the English text when it has no translation."""
    return texts.get(what, {}).get(lang) or english


@dataclass(frozen=True)
class Objective:
    id: str
    title: str  # English; `texts` has every language it is written in
    check: str
    hint: str
    params: dict[str, Any] = field(default_factory=dict)
    line: int = 0
    texts: dict[str, Texts] = field(default_factory=dict)  # {"title": {"en": .., "ko": ..}, ...}
    needs: tuple[str, ...] = ()  # ids of objectives that must pass before this one is judged

    def provides(self) -> set[tuple[str, str]]:
        """The objects this objective checks exist: {("service", "web-service-nodeport")}."""
        if self.check not in PROVIDES:
            return set()
        kind, key = PROVIDES[self.check]
        return {(kind, str(self.params[key]))}

    def __getitem__(self, key: str) -> Any:
        return self.params[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.params.get(key, default)

    def text(self, what: str, lang: str) -> str:
        """The title or hint in ``lang`` (English when that language has none)."""
        return in_lang(self.texts, what, lang, self.title if what == "title" else self.hint)


@dataclass(frozen=True)
class Lab:
    name: str
    title: str
    namespace: str
    setup: tuple[str, ...]
    solution: tuple[str, ...]
    objectives: tuple[Objective, ...]
    path: Path
    texts: dict[str, Texts] = field(default_factory=dict)  # {"title": {"en": .., "ko": ..}}

    def manifests(self, which: str = "all") -> list[Path]:
        names = {"setup": self.setup, "solution": self.solution,
                 "all": self.setup + self.solution}[which]
        return [MANIFESTS / n for n in names]


def names() -> list[str]:
    order = ["clusterip", "nodeport", "loadbalancer", "externalname", "headless"]
    found = sorted(p.stem for p in CHECKS.glob("*.yaml"))
    return [n for n in order if n in found] + [n for n in found if n not in order]


def load(name: str, directory: Path = CHECKS) -> Lab:
    path = directory / f"{name}.yaml"
    if not path.exists():
        raise error(LabError, "lab.unknown", name=name, labs=", ".join(names()))
    return parse(path)


def parse(path: Path) -> Lab:
    text = path.read_text(encoding="utf-8")
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark
        raise CheckFileError(f"not valid YAML: {e.problem}",
                             where=f"{shown(path)}:{mark.line + 1 if mark else '?'}",
                             fix="fix the YAML at that line") from e

    def where(line: int) -> str:
        return f"{shown(path)}:{line}"

    if not isinstance(data, dict):
        raise CheckFileError("a check file is a mapping with lab, namespace and objectives",
                             where=where(1), fix="see checks/nodeport.yaml for the shape")
    for key in ("lab", "title", "namespace", "objectives"):
        if key not in data:
            raise CheckFileError(f"missing `{key}`", where=where(1),
                                 fix="see checks/nodeport.yaml for the shape")
    nodes = _items(root, "objectives")
    objectives, seen = [], set()
    for i, item in enumerate(data["objectives"]):
        node = nodes[i] if i < len(nodes) else None
        line = node.start_mark.line + 1 if node is not None else 1
        if not isinstance(item, dict):
            raise CheckFileError("an objective is a mapping", where=where(line),
                                 fix="give it id, title, check and hint")
        check = item.get("check")
        if check not in CHECKS_PARAMS:
            raise CheckFileError(f"unknown check {check!r}", where=where(line),
                                 fix=f"use one of: {', '.join(sorted(CHECKS_PARAMS))}")
        required, optional = CHECKS_PARAMS[check]
        missing = (required | {"id", "title", "hint"}) - set(item)
        if check in ONE_WORKLOAD and not missing:
            named = [k for k in WORKLOAD_KEYS if k in item]
            if len(named) != 1:
                raise CheckFileError(
                    f"objective {item.get('id', i)!r} ({check}): "
                    + ("name the pods' workload" if not named
                       else f"both {' and '.join(named)} given"),
                    where=where(line), fix=f"give exactly one of {', '.join(WORKLOAD_KEYS)}")
        unknown = set(item) - required - optional - _COMMON
        if missing or unknown:
            problem = (f"missing {', '.join(sorted(missing))}" if missing
                       else f"unknown key(s) {', '.join(sorted(unknown))}")
            raise CheckFileError(f"objective {item.get('id', i)!r} ({check}): {problem}",
                                 where=where(line),
                                 fix=f"`{check}` takes {', '.join(sorted(required | optional))}")
        if item["id"] in seen:
            raise CheckFileError(f"duplicate objective id {item['id']!r}", where=where(line),
                                 fix="give every objective its own id")
        seen.add(item["id"])
        if "url" in item:
            fields = {f for _, f, _, _ in string.Formatter().parse(item["url"]) if f}
            if fields - URL_FIELDS:
                raise CheckFileError(f"unknown URL field(s) {sorted(fields - URL_FIELDS)}",
                                     where=where(line),
                                     fix=f"URL fields are {', '.join(sorted(URL_FIELDS))}")
        params = {k: v for k, v in item.items() if k not in _COMMON}
        texts = {what: _texts(item[what], node, what, f"objective {item['id']!r}", where, line)
                 for what in TRANSLATED}
        needs = _needs(item, node, where, line)
        objectives.append(Objective(str(item["id"]), texts["title"][DEFAULT], check,
                                    texts["hint"][DEFAULT], params, line, texts, needs))
    _check_needs(objectives, nodes, where)
    title = _texts(data["title"], root, "title", "the lab", where, 1)
    lab = Lab(str(data["lab"]), title[DEFAULT], str(data["namespace"]),
              tuple(data.get("setup") or ()), tuple(data.get("solution") or ()),
              tuple(objectives), path, {"title": title})
    for m in lab.manifests():
        if not m.exists():
            raise CheckFileError(f"the manifest {shown(m)} does not exist", where=where(1),
                                 fix="setup and solution list files under manifests/")
    return lab


def _needs(item: dict[str, Any], node: yaml.Node | None, where: Callable[[int], str],
           line: int) -> tuple[str, ...]:
    """`needs: <id>` or `needs: [<id>, ...]`: the objectives to pass before this one is judged."""
    value = item.get("needs")
    if value is None:
        return ()
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
        raise CheckFileError(f"objective {item['id']!r}: `needs` is not a list of objective ids",
                             where=where(_key_line(node, "needs", line)),
                             fix="write `needs: <id>` or `needs: [<id>, <id>]` with ids of this "
                                 "lab's objectives")
    return tuple(values)


def _check_needs(objectives: list[Objective], nodes: list[yaml.Node],
                 where: Callable[[int], str]) -> None:
    """Every `needs:` names another objective of the lab, and no chain of them loops."""
    ids = [o.id for o in objectives]
    by_id = {o.id: o for o in objectives}
    for i, o in enumerate(objectives):
        at = where(_key_line(nodes[i] if i < len(nodes) else None, "needs", o.line))
        for n in o.needs:
            if n == o.id:
                raise CheckFileError(f"objective {o.id!r} needs itself", where=at,
                                     fix="name the objectives that must pass before this one")
            if n not in by_id:
                raise CheckFileError(f"objective {o.id!r} needs {n!r}, which is no objective "
                                     "of this lab", where=at,
                                     fix=f"use one of: {', '.join(i for i in ids if i != o.id)}")
        seen, todo = set(), list(o.needs)
        while todo:
            n = todo.pop()
            if n == o.id:
                raise CheckFileError(f"objective {o.id!r}: its `needs` lead back to it",
                                     where=at, fix="remove one `needs` of the loop")
            if n not in seen:
                seen.add(n)
                todo += by_id[n].needs


def _texts(value: Any, parent: yaml.Node | None, what: str, owner: str,
           where: Callable[[int], str], line: int) -> Texts:
    """``what`` (a title or hint) of ``parent``: plain text (English) or a mapping of languages
    with English in it. An error points at the `what:` line, or at the language's own line."""
    shape = (f"write `{what}: <English text>`, or one line per language: "
             f"`{what}: {{{', '.join(f'{lg}: ...' for lg in LANGS)}}}`")
    node, at = _value(parent, what), _key_line(parent, what, line)
    if value is None or isinstance(value, str | int | float) and not isinstance(value, bool):
        if value is None or not str(value).strip():
            raise CheckFileError(f"{owner}: `{what}` is empty", where=where(at), fix=shape)
        return {DEFAULT: str(value)}
    if not isinstance(value, dict):
        raise CheckFileError(f"{owner}: `{what}` is neither text nor a mapping of languages",
                             where=where(at), fix=shape)
    for lang, text in value.items():
        key_line = _key_line(node, lang, at)
        if lang not in LANGS:
            raise CheckFileError(f"{owner}: unknown language {lang!r} in `{what}`",
                                 where=where(key_line), fix=f"languages are {', '.join(LANGS)}")
        if not isinstance(text, str) or not text.strip():
            raise CheckFileError(f"{owner}: `{what}.{lang}` is not a line of text",
                                 where=where(key_line),
                                 fix="write the translation on the same line as its language, "
                                     "in quotes if it holds `: ` or starts with a symbol")
    if DEFAULT not in value:
        raise CheckFileError(f"{owner}: `{what}` has no English text ({DEFAULT})",
                             where=where(at),
                             fix=f"add `{DEFAULT}: ...`: English is what a missing translation "
                                 "falls back to")
    return {str(lang): str(text) for lang, text in value.items()}


def _value(node: Any, key: str) -> yaml.Node | None:
    """The node under ``key`` of a mapping node (for line numbers)."""
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if k.value == key:
                return v  # type: ignore[no-any-return]
    return None


def _key_line(node: yaml.Node | None, key: Any, default: int) -> int:
    if isinstance(node, yaml.MappingNode):
        for k, _ in node.value:
            if k.value == str(key):
                return int(k.start_mark.line) + 1
    return default


def _items(root: Any, key: str) -> list[yaml.Node]:
    value = _value(root, key)
    return list(value.value) if isinstance(value, yaml.SequenceNode) else []
