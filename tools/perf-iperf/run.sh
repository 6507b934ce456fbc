#!/usr/bin/env bash
# iperf3 through a DVA vs through the Linux kernel, in one run (issue 9). Not a test: a load harness that prints
# figures. Needs root, iperf3, nftables, python3 and a built dva-node.
#
#   tools/perf-iperf/run.sh [--seconds N] [--ring | --no-ring | --gso | --park | --shortcut | --modes "dva dva-ring dva-gso dva-park dva-shortcut dva-lb-shortcut"] [--dispatcher-engines N] [--keep]
#
# --dispatcher-engines N runs the dispatcher on N engines (its afpacket: sources share each veth end by PACKET_FANOUT).
# --keep leaves the work directory (node logs, iperf3 JSON, each node's /counters after its run) for a look.
#
# Client C (192.0.2.10/24) -> server S (198.51.100.11/24), each in a namespace made here (documentation ranges only),
# through:
#   dva      a DVA in namespace D: one dispatcher on afpacket: sources over the two veth ends, two data planes, tunnels
#            over D's loopback, a stateful firewall accepting tcp/udp 5201 (static config, no manager)
#   dva-ring the same with afpacket:IF?ring=1 (PACKET_MMAP ring) sources
#   dva-gso  the same with afpacket:IF?gso=1 sources and "superFrames": true on every node: client and server keep their
#            default offloads (TSO on), TSO super-frames travel whole through the tunnel (over loopback, MTU 65535) and
#            the dispatcher's kernel segments them on the way out
#   dva-park the dva-gso DVA with "parkPayloads": true on the dispatcher: a TCP super-frame's payload waits there and
#            only its headers go to a data plane and back (docs/node.md "Parked payloads")
#   dva-shortcut the dva-gso DVA with "shortcuts": true on every node: the data planes offer established flows the kernel
#            shortcut and the dispatcher's kernel forwards their frames between the veth ends (BPF on the interfaces),
#            one frame a second still crossing a data plane (docs/node.md "Kernel shortcut")
#   dva-lb-shortcut the dva-shortcut DVA as a load balancer: the client runs iperf3 against the VIP 192.0.2.100:5201
#            (tcp and udp), which the data planes translate to the server 198.51.100.11:5201 (DNAT, and SNAT to
#            198.51.100.1); the kernel shortcut rewrites the translated flows' addresses and ports
#   kernel   a router namespace K: ip_forward=1 and an nftables forward chain (ct state established accept,
#            tcp/udp dport 5201 accept, policy drop), first with the veths' default offloads (TSO/GSO), then with TX
#            checksum offload off as on the DVA path (which also turns TSO off)
# For each: iperf3 TCP -P 4 and UDP (-b 0, 1350-byte datagrams), and the ratio to the kernel with offloads.
set -euo pipefail

seconds=10
modes="dva dva-ring dva-gso"
keep=0
dispatcher_engines=1
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --ring) modes="dva-ring"; shift ;;
    --no-ring) modes="dva"; shift ;;
    --gso) modes="dva-gso"; shift ;;
    --park) modes="dva-park"; shift ;;
    --shortcut) modes="dva-shortcut"; shift ;;
    --modes) modes="$2"; shift 2 ;;
    --keep) keep=1; shift ;;
    --dispatcher-engines) dispatcher_engines="$2"; shift 2 ;;
    *) echo "usage: $0 [--seconds N] [--ring | --no-ring | --gso | --park | --shortcut | --modes LIST] [--dispatcher-engines N] [--keep]" >&2; exit 2 ;;
  esac
done

[ "$(id -u)" = 0 ] || { echo "run as root (namespaces, veth, AF_PACKET)" >&2; exit 2; }
for tool in iperf3 nft python3 dotnet; do
  command -v "$tool" >/dev/null || { echo "$tool is missing (apt-get install -y iperf3 nftables python3)" >&2; exit 2; }
done

repo="$(cd "$(dirname "$0")/../.." && pwd)"
dll="$repo/Dva.Node/bin/Release/net10.0/dva-node.dll"
[ -f "$dll" ] || dotnet build "$repo/Dva.Node" -c Release -v:q -nologo >/dev/null
work="$(mktemp -d /tmp/dva-iperf-XXXXXX)"
tag="$$"
namespaces=()
pids=()

cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  for ns in "${namespaces[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
  if [ "$keep" = 1 ]; then echo "work directory kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

add_ns() {
  ip netns add "$1"
  namespaces+=("$1")
  ip -n "$1" link set lo up
  ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
  ip netns exec "$1" sysctl -qw net.ipv6.conf.default.disable_ipv6=1
}

# ethtool -K DEV tx off, through SIOCETHTOOL (ethtool may be absent), which turns TSO off too: a plain afpacket:
# source takes no TSO super-frames. (It finishes checksums left to the device itself, so TSO off alone would do; the
# runs recorded in docs/benchmarks.md turned both off, and this keeps them comparable.)
tx_checksum_off() {
  ip netns exec "$1" python3 - "$2" <<'PY'
import array, fcntl, socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
value = array.array('I', [0x17, 0])  # ETHTOOL_STXCSUM, off
fcntl.ioctl(s.fileno(), 0x8946, struct.pack('16sP', sys.argv[1].encode(), value.buffer_info()[0]))  # SIOCETHTOOL
PY
}

# Client and server namespaces and the veth pairs to the middle namespace $1 (its ends: ipc-m, ips-m).
hosts() {
  local middle="$1" client="$2" server="$3"
  add_ns "$client"; add_ns "$server"
  ip link add ipc-h netns "$client" type veth peer name ipc-m netns "$middle"
  ip link add ips-h netns "$server" type veth peer name ips-m netns "$middle"
  ip -n "$client" addr add 192.0.2.10/24 dev ipc-h
  ip -n "$client" link set ipc-h up
  ip -n "$client" route add default via 192.0.2.1
  ip -n "$server" addr add 198.51.100.11/24 dev ips-h
  ip -n "$server" link set ips-h up
  ip -n "$server" route add default via 198.51.100.1
  ip -n "$middle" link set ipc-m up
  ip -n "$middle" link set ips-m up
}

wait_for() { # $1 seconds, $2... command
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.2
  done
}

# ping (50 echoes, 20 ms apart: the latency at a low rate), then iperf3 TCP -P 4 and UDP from $1 to the server in
# $2; writes "tcp_mbps udp_mbps udp_loss ping_avg_ms" to $work/$3.result.
target=198.51.100.11   # what the client's iperf3 and ping aim at: the server, or a DVA's VIP

measure() {
  local client="$1" server="$2" name="$3"
  ip netns exec "$server" iperf3 -s -B 198.51.100.11 -p 5201 >"$work/$name-server.log" 2>&1 &
  local server_pid=$!
  pids+=("$server_pid")
  wait_for 10 ip netns exec "$server" sh -c "ss -ltn | grep -q '198.51.100.11:5201 '"
  ip netns exec "$client" ping -q -c 50 -i 0.02 "$target" >"$work/$name-ping.txt" 2>&1 || true
  ip netns exec "$client" iperf3 -c "$target" -p 5201 -P 4 -t "$seconds" -J --connect-timeout 5000 >"$work/$name-tcp.json" || true
  ip netns exec "$client" iperf3 -c "$target" -p 5201 -u -b 0 -l 1350 -t "$seconds" -J --connect-timeout 5000 >"$work/$name-udp.json" || true
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  {
  python3 - "$work/$name-tcp.json" "$work/$name-udp.json" "$work/$name-ping.txt" <<'PY'
import json, re, sys
def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except Exception:
        return {}
tcp = load(sys.argv[1]).get("end", {}).get("sum_received", {}).get("bits_per_second", 0) / 1e6
udp = load(sys.argv[2]).get("end", {}).get("sum", {})
lost = udp.get("lost_percent", 100.0)
# The client's sum is its sending rate; what arrived is that less the loss the server reported.
received = udp.get("bits_per_second", 0) * (1 - lost / 100) / 1e6
# rtt min/avg/max/mdev = 0.046/0.071/0.160/0.023 ms
match = re.search(r"= [0-9.]+/([0-9.]+)/", open(sys.argv[3]).read())
ping = match.group(1) if match else "n/a"
print(f"{tcp:.0f} {received:.0f} {lost:.1f} {ping}")
PY
  } >"$work/$name.result"
}

node_config() { # $1 name, $2 json
  printf '%s\n' "$2" >"$work/$1.json"
}

# CPU seconds (user + system) a process has used so far.
cpu_seconds() {
  python3 -c "import os, sys; f = open(f'/proc/{sys.argv[1]}/stat').read().rsplit(')', 1)[1].split(); print((int(f[11]) + int(f[12])) / os.sysconf('SC_CLK_TCK'))" "$1" 2>/dev/null || echo 0
}

declare -A node_pid
start_node() { # $1 namespace, $2 name
  ip netns exec "$1" dotnet "$dll" run --config "$work/$2.json" >"$work/$2.log" 2>&1 &
  pids+=("$!")
  node_pid[$2]=$!
  wait_for 60 grep -q '^ready ' "$work/$2.log" || { echo "$2 did not start:"; cat "$work/$2.log"; exit 1; }
}

stop_nodes() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  pids=()
}

dva_run() { # $1 source option ("", "?ring=1" or "?gso=1"), $2 the run's name (dva$1, dva-park or dva-shortcut), $3 "park" to park payloads, "shortcut" for shortcuts
  local d="dvaip-d$tag" c="dvaip-c$tag" s="dvaip-s$tag" super="" park="" shortcut=""
  add_ns "$d"
  hosts "$d" "$c" "$s"
  [ "${3:-}" = park ] && park='"parkPayloads": true,'
  local vip="" lb=""
  case "${3:-}" in
    shortcut) shortcut='"shortcuts": true,' ;;
    lbshortcut)
      shortcut='"shortcuts": true,'
      vip=', "192.0.2.100/24"'
      lb='"loadBalancer": { "vips": [
          { "address": "192.0.2.100", "port": 5201, "protocol": "tcp", "members": [ { "address": "198.51.100.11", "port": 5201 } ] },
          { "address": "192.0.2.100", "port": 5201, "protocol": "udp", "members": [ { "address": "198.51.100.11", "port": 5201 } ] } ],
        "snat": [ { "ifid": 2, "address": "198.51.100.1" } ] },' ;;
  esac
  if [ "$1" = "?gso=1" ]; then
    super='"superFrames": true,'
  else
    tx_checksum_off "$c" ipc-h
    tx_checksum_off "$s" ips-h
  fi
  local table='"table": { "bucketCount": 256, "seed": "0x5eed",
      "dataPlanes": [ { "nodeId": 1, "endpoint": "127.0.0.1:16391" }, { "nodeId": 2, "endpoint": "127.0.0.1:16392" } ],
      "dispatchers": [ { "nodeId": 100, "endpoint": "127.0.0.1:16390" } ] }'
  local firewall='"firewall": { "defaultAction": "drop", "midStream": "loose", "rules": [
      { "id": 10, "priority": 10, "action": "accept", "protocol": "tcp", "destinationPorts": "5201" },
      { "id": 20, "priority": 20, "action": "accept", "protocol": "udp", "destinationPorts": "5201" },
      { "id": 30, "priority": 30, "action": "accept", "protocol": "icmp" } ] }'
  node_config dispatcher "{ $super $park $shortcut \"engines\": $dispatcher_engines, \"role\": \"dispatcher\", \"nodeId\": 100, \"name\": \"dispatcher\", \"tunnel\": { \"listen\": \"127.0.0.1:16390\" },
    \"interfaces\": [
      { \"ifid\": 1, \"mac\": \"02:00:00:00:00:01\", \"addresses\": [\"192.0.2.1/24\"$vip], \"source\": \"afpacket:ipc-m$1\" },
      { \"ifid\": 2, \"mac\": \"02:00:00:00:00:02\", \"addresses\": [\"198.51.100.1/24\"], \"source\": \"afpacket:ips-m$1\" } ],
    $table }"
  for n in 1 2; do
    node_config "dp$n" "{ $super $shortcut \"role\": \"dataplane\", \"nodeId\": $n, \"name\": \"dp$n\", \"tunnel\": { \"listen\": \"127.0.0.1:1639$n\" },
      \"interfaces\": [
        { \"ifid\": 1, \"mac\": \"02:00:00:00:00:01\", \"addresses\": [\"192.0.2.1/24\"$vip], \"dispatcher\": 100 },
        { \"ifid\": 2, \"mac\": \"02:00:00:00:00:02\", \"addresses\": [\"198.51.100.1/24\"], \"dispatcher\": 100 } ],
      $lb $firewall, $table }"
  done
  start_node "$d" dp1
  start_node "$d" dp2
  start_node "$d" dispatcher
  wait_for 20 ip netns exec "$c" ping -c 1 -W 1 198.51.100.11 || { echo "no path through the DVA"; cat "$work"/*.log; exit 1; }
  local before=() started=$SECONDS
  for node in dispatcher dp1 dp2; do before+=("$(cpu_seconds "${node_pid[$node]}")"); done
  measure "$c" "$s" "$2"
  local i=0 used=""
  for node in dispatcher dp1 dp2; do
    used+="$node $(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "${before[$i]}" "$(cpu_seconds "${node_pid[$node]}")") s, "
    i=$((i + 1))
  done
  echo "CPU used during the runs (${used%, }) of $((SECONDS - started)) s" >"$work/$2.cpu"
  for node in dispatcher dp1 dp2; do
    control="$(sed -n 's/^ready .*control=\([^ ]*\).*/\1/p' "$work/$node.log" | head -n 1)"
    ip netns exec "$d" curl -sS --max-time 5 "http://$control/counters" >"$work/$2-$node.counters.json" 2>&1 || true
  done
  stop_nodes
  for ns in "$d" "$c" "$s"; do ip netns del "$ns"; done
  namespaces=()
}

kernel_setup() {
  local k="dvaip-k$tag" c="dvaip-kc$tag" s="dvaip-ks$tag"
  add_ns "$k"
  hosts "$k" "$c" "$s"
  ip -n "$k" addr add 192.0.2.1/24 dev ipc-m
  ip -n "$k" addr add 198.51.100.1/24 dev ips-m
  ip netns exec "$k" sysctl -qw net.ipv4.ip_forward=1
  ip netns exec "$k" nft -f - <<'NFT'
table inet dva {
  chain forward {
    type filter hook forward priority filter; policy drop;
    ct state established,related accept
    ct state invalid drop
    tcp dport 5201 accept
    udp dport 5201 accept
    icmp type echo-request accept
  }
}
NFT
  wait_for 20 ip netns exec "$c" ping -c 1 -W 1 198.51.100.11 || { echo "no path through the kernel router"; exit 1; }
}

echo "iperf3 through a DVA vs the kernel: $seconds s per run, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
kernel_setup
measure "dvaip-kc$tag" "dvaip-ks$tag" kernel
read -r k_tcp k_udp k_loss k_ping <"$work/kernel.result"
tx_checksum_off "dvaip-kc$tag" ipc-h
tx_checksum_off "dvaip-ks$tag" ips-h
measure "dvaip-kc$tag" "dvaip-ks$tag" kernel-nocsum
read -r kn_tcp kn_udp kn_loss kn_ping <"$work/kernel-nocsum.result"
for ns in "${namespaces[@]}"; do ip netns del "$ns"; done
namespaces=()

results=()
for mode in $modes; do
  option=""
  [ "$mode" = dva-ring ] && option="?ring=1"
  [ "$mode" = dva-gso ] && option="?gso=1"
  name="dva$option"
  if [ "$mode" = dva-park ]; then option="?gso=1"; name=dva-park; fi
  if [ "$mode" = dva-shortcut ]; then option="?gso=1"; name=dva-shortcut; fi
  if [ "$mode" = dva-lb-shortcut ]; then option="?gso=1"; name=dva-lb-shortcut; target=192.0.2.100; fi
  dva_run "$option" "$name" "$( [ "$mode" = dva-park ] && echo park || true)$( [ "$mode" = dva-shortcut ] && echo shortcut || true)$( [ "$mode" = dva-lb-shortcut ] && echo lbshortcut || true)"
  target=198.51.100.11
  read -r tcp udp loss ping <"$work/$name.result"
  results+=("$mode $tcp $udp $loss $ping")
done

ratio() { python3 -c "import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); print(f'{a / b:.3f}' if b else 'n/a')" "$1" "$2"; }
printf '%-40s %12s %8s %14s %10s %8s %10s\n' path "TCP -P4 Mb/s" ratio "UDP recv Mb/s" "UDP loss" ratio "ping ms"
printf '%-40s %12s %8s %14s %9s%% %8s %10s\n' "kernel (ip_forward + nftables), offloads" "$k_tcp" 1.000 "$k_udp" "$k_loss" 1.000 "$k_ping"
printf '%-40s %12s %8s %14s %9s%% %8s %10s\n' "kernel, TX checksum offload off" "$kn_tcp" "$(ratio "$kn_tcp" "$k_tcp")" "$kn_udp" "$kn_loss" "$(ratio "$kn_udp" "$k_udp")" "$kn_ping"
for line in "${results[@]}"; do
  read -r mode tcp udp loss ping <<<"$line"
  label="DVA (1 dispatcher, 2 data planes, afpacket:)"
  [ "$mode" = dva-ring ] && label="DVA, afpacket:?ring=1"
  [ "$mode" = dva-gso ] && label="DVA, afpacket:?gso=1, superFrames"
  [ "$mode" = dva-park ] && label="DVA, gso, superFrames, parkPayloads"
  [ "$mode" = dva-shortcut ] && label="DVA, gso, superFrames, shortcuts"
  [ "$mode" = dva-lb-shortcut ] && label="DVA load balancer (VIP), shortcuts"
  [ "$dispatcher_engines" != 1 ] && label="$label, $dispatcher_engines disp. engines"
  printf '%-40s %12s %8s %14s %9s%% %8s %10s\n' "$label" "$tcp" "$(ratio "$tcp" "$k_tcp")" "$udp" "$loss" "$(ratio "$udp" "$k_udp")" "$ping"
done
for mode in $modes; do
  option=""
  [ "$mode" = dva-ring ] && option="?ring=1"
  [ "$mode" = dva-gso ] && option="?gso=1"
  name="dva$option"
  [ "$mode" = dva-park ] && name=dva-park
  [ "$mode" = dva-shortcut ] && name=dva-shortcut
  [ "$mode" = dva-lb-shortcut ] && name=dva-lb-shortcut
  echo "$mode: $(cat "$work/$name.cpu")"
done
