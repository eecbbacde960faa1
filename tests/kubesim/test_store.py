"""The store's cached encodings: a list must never answer from a stale cache."""

from __future__ import annotations

import json
from pathlib import Path

from kubesim.resources import lookup
from kubesim.store import Store

PODS = lookup("", "v1", "pods")
CMS = lookup("", "v1", "configmaps")
assert PODS is not None and CMS is not None


def pod(ns: str, name: str, image: str = "nginx:1.29") -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns},
            "spec": {"containers": [{"name": "c", "image": image}]}}


def items(store: Store, ns: str | None) -> list[dict]:
    return json.loads(b"[" + store.encoded_items(PODS, ns) + b"]")


def test_collection_encoding_follows_every_write(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.db")
    store.create(PODS, pod("a", "p2"))
    store.create(PODS, pod("a", "p1"))
    store.create(PODS, pod("b", "p0"))
    assert [o["metadata"]["name"] for o in items(store, "a")] == ["p1", "p2"]
    assert [(o["metadata"]["namespace"], o["metadata"]["name"]) for o in items(store, None)] == \
        [("a", "p1"), ("a", "p2"), ("b", "p0")]
    first = store.encoded_items(PODS, "a")
    assert store.encoded_items(PODS, "a") is first  # unchanged kind: served from memory

    changed = json.loads(json.dumps(store.get(PODS, "a", "p1")))
    changed["spec"]["containers"][0]["image"] = "nginx:1.30"
    store.update(PODS, changed)
    assert [o["spec"]["containers"][0]["image"] for o in items(store, "a")] == \
        ["nginx:1.30", "nginx:1.29"]
    store.create(PODS, pod("b", "p9"))
    assert [o["metadata"]["name"] for o in items(store, None)] == ["p1", "p2", "p0", "p9"]
    store.delete(PODS, "a", "p2")
    assert [o["metadata"]["name"] for o in items(store, "a")] == ["p1"]
    assert [o["metadata"]["name"] for o in items(store, "empty")] == []


def test_other_kinds_do_not_invalidate(tmp_path: Path) -> None:
    store = Store(None)
    store.create(PODS, pod("a", "p1"))
    first = store.encoded_items(PODS, "a")
    store.create(CMS, {"apiVersion": "v1", "kind": "ConfigMap",
                       "metadata": {"name": "c", "namespace": "a"}})
    assert store.encoded_items(PODS, "a") is first
