"""The network commands a pod's shims run, by name."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from ..iptables import iptables_save
from ..network import Network
from ..toolserver import Tool
from . import curl, dns, misc

TOOLS: dict[str, Callable[[Network, Tool], Awaitable[int]]] = {
    "curl": curl.run, "getent": dns.getent, "nslookup": dns.nslookup, "dig": dns.dig,
    "host": dns.host, "wget": misc.wget, "ping": misc.ping, "hostname": misc.hostname,
    "iptables-save": iptables_save,
}
