#!/bin/sh
# kindnet-lite: the rig's pod network agent, doing for a kind cluster built offline what kindnetd
# does on a learner's kind cluster (kindnetd's image cannot be built here), minus NetworkPolicy:
#   1. write this node's CNI config: ptp veth pairs, addresses from the node's spec.podCIDR
#      (host-local IPAM), a default route through the node, and portmap for hostPort;
#   2. route every other node's podCIDR via that node's InternalIP;
#   3. masquerade traffic from pods to anything outside the pod network (as kindnetd's
#      ip-masq-agent does), so pods reach node and host addresses with the node's address.
# It reads the nodes from the API server every few seconds, so nodes that join later get routes.
set -u
SA=/var/run/secrets/kubernetes.io/serviceaccount
API="https://${CONTROL_PLANE_ENDPOINT:-kubernetes.default.svc:443}"
CONF=/etc/cni/net.d/10-kindnet-lite.conflist
: "${NODE_NAME:?the DaemonSet sets NODE_NAME}" "${POD_SUBNET:?the DaemonSet sets POD_SUBNET}"

masquerade() {
    iptables -t nat -N KINDNET-LITE-MASQ 2>/dev/null || true
    iptables -t nat -C POSTROUTING -m addrtype ! --dst-type LOCAL -j KINDNET-LITE-MASQ 2>/dev/null ||
        iptables -t nat -A POSTROUTING -m addrtype ! --dst-type LOCAL \
            -m comment --comment "kindnet-lite: masquerade pod traffic leaving the pod network" \
            -j KINDNET-LITE-MASQ
    iptables -t nat -C KINDNET-LITE-MASQ -d "$POD_SUBNET" -j RETURN 2>/dev/null ||
        iptables -t nat -A KINDNET-LITE-MASQ -d "$POD_SUBNET" -j RETURN
    iptables -t nat -C KINDNET-LITE-MASQ -s "$POD_SUBNET" -j MASQUERADE 2>/dev/null ||
        iptables -t nat -A KINDNET-LITE-MASQ -s "$POD_SUBNET" -j MASQUERADE
}

write_conf() {
    cidr=$1
    tmp=$(mktemp /etc/cni/net.d/.kindnet-lite.XXXXXX)
    cat > "$tmp" <<CONF
{
  "cniVersion": "1.0.0",
  "name": "kindnet-lite",
  "plugins": [
    {
      "type": "ptp",
      "ipMasq": false,
      "mtu": 1500,
      "ipam": {
        "type": "host-local",
        "dataDir": "/run/cni-ipam-state",
        "routes": [{"dst": "0.0.0.0/0"}],
        "ranges": [[{"subnet": "$cidr"}]]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
CONF
    if cmp -s "$tmp" "$CONF"; then rm -f "$tmp"; else mv "$tmp" "$CONF"; echo "wrote $CONF for $cidr"; fi
}

while true; do
    nodes=$(curl -sf --max-time 10 --cacert "$SA/ca.crt" \
        -H "Authorization: Bearer $(cat "$SA/token")" "$API/api/v1/nodes") || {
        echo "cannot list nodes from $API yet; retrying"; sleep 2; continue; }
    echo "$nodes" | jq -r '.items[] | [.metadata.name, (.spec.podCIDR // ""),
        ((.status.addresses // [])[] | select(.type == "InternalIP") | .address)] | @tsv' |
    while IFS="$(printf '\t')" read -r name cidr ip; do
        [ -n "$cidr" ] || continue
        case "$ip" in *:*) continue ;; esac
        if [ "$name" = "$NODE_NAME" ]; then
            write_conf "$cidr"
        else
            ip route replace "$cidr" via "$ip" || echo "could not route $cidr via $ip"
        fi
    done
    masquerade
    sleep 5
done
