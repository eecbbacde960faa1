"""The labs and their objectives, read from checks/<lab>.yaml: data, never executed."""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import CheckFileError, LabError
from .paths import CHECKS, MANIFESTS, shown

# Each check's parameters: required and optional. The grader implements exactly these.
CHECKS_PARAMS: dict[str, tuple[set[str], set[str]]] = {
    "deployment-ready": ({"deployment"}, {"replicas"}),
    "pod-ready": ({"pod"}, set()),
    "service": ({"service", "type"}, set()),
    "service-port": ({"service", "port"}, {"nodePort", "protocol"}),
    "selector": ({"service", "deployment"}, set()),
    "endpoints": ({"service", "deployment"}, set()),
    "external-ips": ({"service"}, set()),
    "external-name": ({"service", "target"}, set()),
    "no-cluster-ip": ({"service"}, set()),
    "dns": ({"from", "service", "resolves-to"}, set()),
    "http": ({"from", "service", "url", "served-by"}, {"requests"}),
    "http-host": ({"service", "url", "served-by"}, {"requests"}),
}
URL_FIELDS = {"clusterIP", "port", "nodePort", "nodeIP", "externalIP", "name", "namespace", "dns"}
_COMMON = {"id", "title", "check", "hint"}


@dataclass(frozen=True)
class Objective:
    id: str
    title: str
    check: str
    hint: str
    params: dict[str, Any] = field(default_factory=dict)
    line: int = 0

    def __getitem__(self, key: str) -> Any:
        return self.params[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.params.get(key, default)


@dataclass(frozen=True)
class Lab:
    name: str
    title: str
    namespace: str
    setup: tuple[str, ...]
    solution: tuple[str, ...]
    objectives: tuple[Objective, ...]
    path: Path

    def manifests(self, which: str = "all") -> list[Path]:
        names = {"setup": self.setup, "solution": self.solution,
                 "all": self.setup + self.solution}[which]
        return [MANIFESTS / n for n in names]


def names() -> list[str]:
    order = ["clusterip", "nodeport", "loadbalancer", "externalname"]
    found = sorted(p.stem for p in CHECKS.glob("*.yaml"))
    return [n for n in order if n in found] + [n for n in found if n not in order]


def load(name: str, directory: Path = CHECKS) -> Lab:
    path = directory / f"{name}.yaml"
    if not path.exists():
        raise LabError(f"there is no lab named {name!r}",
                       fix=f"pick one of: {', '.join(names())} (e.g. make check LAB=nodeport)")
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
    lines = _item_lines(root, "objectives")
    objectives, seen = [], set()
    for i, item in enumerate(data["objectives"]):
        line = lines[i] if i < len(lines) else 1
        if not isinstance(item, dict):
            raise CheckFileError("an objective is a mapping", where=where(line),
                                 fix="give it id, title, check and hint")
        check = item.get("check")
        if check not in CHECKS_PARAMS:
            raise CheckFileError(f"unknown check {check!r}", where=where(line),
                                 fix=f"use one of: {', '.join(sorted(CHECKS_PARAMS))}")
        required, optional = CHECKS_PARAMS[check]
        missing = (required | {"id", "title", "hint"}) - set(item)
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
        objectives.append(Objective(str(item["id"]), str(item["title"]), check,
                                    str(item["hint"]), params, line))
    lab = Lab(str(data["lab"]), str(data["title"]), str(data["namespace"]),
              tuple(data.get("setup") or ()), tuple(data.get("solution") or ()),
              tuple(objectives), path)
    for m in lab.manifests():
        if not m.exists():
            raise CheckFileError(f"the manifest {shown(m)} does not exist", where=where(1),
                                 fix="setup and solution list files under manifests/")
    return lab


def _item_lines(root: Any, key: str) -> list[int]:
    if isinstance(root, yaml.MappingNode):
        for k, v in root.value:
            if k.value == key and isinstance(v, yaml.SequenceNode):
                return [n.start_mark.line + 1 for n in v.value]
    return []
