"""Inspect the embedded cluster's data plane from the host, without a pod:

    python -m kubesim.dataplane iptables-save --state-dir .labs/embedded [--node NAME] [-t nat]

prints the rules kube-proxy would have programmed on a node (the same text ``iptables-save`` in
a hostNetwork pod prints; on kind: ``docker exec kind-control-plane iptables-save``). It reads the
server's state file (read-only), so it works while the server runs."""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from pathlib import Path
from typing import Any

from ..nodes import NODES
from ..resources import RESOURCES
from .iptables import render
from .network import Network


class Snapshot:
    """The objects of a state file, read-only, with the store methods the network model uses."""

    def __init__(self, path: Path) -> None:
        self.rv = 0
        self.objects: dict[Any, dict[tuple[str, str], dict[str, Any]]] = {r: {} for r in
                                                                          RESOURCES}
        by_q = {r.qualified: r for r in RESOURCES}
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            for key, data in db.execute("SELECT key, data FROM objects"):
                qual, ns, name = key.split("/", 2)
                if qual in by_q:
                    self.objects[by_q[qual]][(ns, name)] = json.loads(data)
                    self.rv += 1
        finally:
            db.close()

    def iter(self, res: Any) -> list[dict[str, Any]]:
        return list(self.objects[res].values())

    def list(self, res: Any, namespace: str | None = None) -> list[dict[str, Any]]:
        return [self.objects[res][k] for k in sorted(self.objects[res])
                if not namespace or k[0] == namespace]

    def find(self, res: Any, namespace: str | None, name: str) -> dict[str, Any] | None:
        return self.objects[res].get((namespace or "", name))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m kubesim.dataplane")
    p.add_argument("command", choices=["iptables-save"])
    p.add_argument("--state-dir", required=True, type=Path)
    p.add_argument("--node", default=NODES[0].name,
                   help=f"one of {', '.join(n.name for n in NODES)}")
    p.add_argument("-t", "--table", choices=["nat", "filter"])
    a = p.parse_args(argv)
    db = a.state_dir / "state.db"
    if not db.exists():
        print(f"no embedded cluster state in {a.state_dir} (start one: python -m kubesim up "
              f"--state-dir {a.state_dir})", file=sys.stderr)
        return 1
    if a.node not in {n.name for n in NODES}:
        print(f"no node {a.node}; the nodes are {', '.join(n.name for n in NODES)}",
              file=sys.stderr)
        return 1
    net = Network(Snapshot(db))
    sys.stdout.write(render(net, a.node, (a.table,) if a.table else ("nat", "filter")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
