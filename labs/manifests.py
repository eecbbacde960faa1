"""Read manifest files with line numbers, fill in run-time values, and point errors at lines.

A learner's file is read, never written: placeholders such as ``${NODE_IP}`` are filled in memory.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import ManifestError
from .paths import MANIFESTS, shown

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


@dataclass
class Document:
    """One object of a manifest file, with the YAML node tree to find lines by field path."""

    obj: dict[str, Any]
    path: Path
    node: yaml.Node = field(repr=False)

    @property
    def line(self) -> int:
        return self.node.start_mark.line + 1

    @property
    def kind(self) -> str:
        return str(self.obj.get("kind", ""))

    @property
    def name(self) -> str:
        return str(self.obj.get("metadata", {}).get("name", ""))

    def locate(self, field_path: str) -> int:
        """The line of ``spec.ports[0].nodePort`` (or of the deepest part of it that exists)."""
        node, line = self.node, self.node.start_mark.line
        for key, index in _TOKEN.findall(field_path or ""):
            pair = None
            if key and isinstance(node, yaml.MappingNode):
                pair = next(((k, v) for k, v in node.value if k.value == key), None)
            elif index and isinstance(node, yaml.SequenceNode) and int(index) < len(node.value):
                pair = (node.value[int(index)],) * 2
            if pair is None:
                break
            line, node = pair[0].start_mark.line, pair[1]  # the key's line: where the field is
        return line + 1

    def where(self, field_path: str = "") -> str:
        return f"{shown(self.path)}:{self.locate(field_path)}"


def _code(line: str) -> str:
    """A YAML line without its comment (placeholders in comments are only prose)."""
    return line.split(" #", 1)[0] if not line.lstrip().startswith("#") else ""


def placeholders(text: str) -> set[str]:
    return {name for line in text.splitlines() for name in _PLACEHOLDER.findall(_code(line))}


def fill(text: str, values: Mapping[str, str], path: Path) -> str:
    missing = placeholders(text) - set(values)
    if missing:
        name = sorted(missing)[0]
        line = next(i for i, ln in enumerate(text.splitlines(), 1) if f"${{{name}}}" in _code(ln))
        raise ManifestError(
            f"no value for the placeholder ${{{name}}}",
            where=f"{shown(path)}:{line}",
            fix=f"replace ${{{name}}} with a real value, or apply the file with the labs helpers "
                "(`python -m labs render LAB` prints it filled in)",
        )
    return string.Template(text).safe_substitute(values)


def load(path: Path | str, values: Mapping[str, str] | None = None) -> list[Document]:
    """Parse every object in a YAML file; ``values`` fill ``${NAME}`` placeholders."""
    path = resolve(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ManifestError(f"cannot read the manifest: {e.strerror}", where=shown(path),
                            fix="check the file name (ls manifests/)") from e
    text = fill(text, values or {}, path)
    docs: list[Document] = []
    loader = yaml.SafeLoader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            obj = loader.construct_document(node)
            if obj is None:
                continue
            docs.append(_checked(Document(obj, path, node)))
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f"{shown(path)}:{mark.line + 1}:{mark.column + 1}" if mark else shown(path)
        raise ManifestError(
            f"not valid YAML: {e.problem or e.context}", where=where,
            fix="check the indentation (spaces, not tabs) and `key: value` pairs at that line",
        ) from e
    finally:
        loader.dispose()
    return docs


def _checked(doc: Document) -> Document:
    if not isinstance(doc.obj, dict):
        raise ManifestError("a manifest document must be a mapping (apiVersion, kind, metadata...)",
                            where=doc.where(), fix="remove the stray list or scalar")
    for key in ("apiVersion", "kind"):
        if not doc.obj.get(key):
            raise ManifestError(f"the object has no `{key}`", where=doc.where(),
                                fix="every object needs apiVersion, kind and metadata.name, "
                                    "e.g. `apiVersion: v1` and `kind: Service`")
    if not isinstance(doc.obj.get("metadata"), dict) or not doc.obj["metadata"].get("name"):
        raise ManifestError(f"the {doc.kind} has no metadata.name", where=doc.where("metadata"),
                            fix="add `metadata:` with `name: <lower-case-name>`")
    return doc


def load_all(paths: Iterable[Path | str], values: Mapping[str, str] | None = None
             ) -> list[Document]:
    return [doc for p in paths for doc in load(p, values)]


def resolve(path: Path | str) -> Path:
    """A path as given, else relative to manifests/ (``nodeport/service-test01.yml``)."""
    p = Path(path)
    if p.exists() or p.is_absolute():
        return p
    return MANIFESTS / p if (MANIFESTS / p).exists() else p
