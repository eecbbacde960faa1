"""The namespace controller: a new namespace gets its ``default`` ServiceAccount and the
``kube-root-ca.crt`` ConfigMap; a terminating one has everything in it deleted, then goes."""

from __future__ import annotations

from .. import errors
from ..registry import R
from ..store import Change
from .base import Context, Controller

NS, SA = R["namespaces"], R["serviceaccounts"]


class NamespaceController(Controller):
    name = "namespace"
    watches = None  # namespaces, and deletions of anything in a namespace

    def __init__(self, ctx: Context, root_ca: str = "") -> None:
        super().__init__(ctx)
        self.root_ca = root_ca  # PEM published as kube-root-ca.crt in every namespace

    def resync(self) -> None:
        for n in self.store.iter(NS):
            self.enqueue(n["metadata"]["name"])

    def on_change(self, ch: Change) -> None:
        if ch.res is NS:
            self.enqueue(ch.obj["metadata"]["name"])
        elif ch.type == "DELETED" and ch.res.namespaced:
            # a terminating namespace may now be empty; a live one may have lost its default
            # ServiceAccount or kube-root-ca.crt (a sync of a live namespace is two look-ups)
            self.enqueue(ch.obj["metadata"].get("namespace", ""))

    def sync(self, name: str) -> None:
        nso = self.store.find(NS, None, name)
        if nso is None:
            return
        if not nso["metadata"].get("deletionTimestamp"):
            if self.store.find(SA, name, "default") is None:
                try:
                    self.reg.create(SA, name, {"metadata": {"name": "default"}},
                                    validation_mode="Ignore")
                except errors.APIError:
                    pass
            if self.store.find(R["configmaps"], name, "kube-root-ca.crt") is None:
                try:
                    self.reg.create(R["configmaps"], name, {
                        "metadata": {"name": "kube-root-ca.crt", "annotations": {
                            "kubernetes.io/description": "Contains a CA bundle that can be used "
                            "to verify the kube-apiserver when using internal endpoints such as "
                            "the internal service IP or kubernetes.default.svc. No other usage is "
                            "guaranteed across distributions of Kubernetes clusters."}},
                        "data": {"ca.crt": self.root_ca}}, validation_mode="Ignore")
                except errors.APIError:
                    pass
            return
        left = 0
        for res in R.values():
            if not res.namespaced:
                continue
            for o in self.store.list(res, name):
                left += 1
                if o["metadata"].get("deletionTimestamp"):
                    continue
                try:
                    self.reg.delete(res, name, o["metadata"]["name"])
                except errors.APIError:
                    pass
        remaining = sum(len(self.store.list(res, name)) for res in R.values() if res.namespaced)
        if remaining == 0:
            self.store.delete(NS, None, name)
        elif left:
            self.later(0.2, name)
