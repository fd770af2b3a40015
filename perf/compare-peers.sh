#!/usr/bin/env bash
# The same pcap through softflowd (Debian's, exporting IPFIX to nfcapd) and
# through poolflowd --pcap: CPU seconds per million packets of each, and whether
# their flow, packet and octet totals agree with each other and with
# poolflow-gen's manifest.
#   perf/compare-peers.sh [--packets N] [--flows F] [--build DIR]
# Needs root for a temporary net.core.rmem_max raise (nfcapd's 64 MiB socket
# buffer: without it a UDP burst at end of file loses flows); restored on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
packets=5000000 flows=50000 build=build port=39995
while (($#)); do
  case $1 in
    --packets) packets=$2; shift 2 ;;
    --flows) flows=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "compare-peers: unknown argument $1" >&2; exit 2 ;;
  esac
done
command -v softflowd >/dev/null && command -v nfcapd >/dev/null ||
  { echo "compare-peers: needs softflowd and nfdump (scripts/setup.sh installs them)" >&2; exit 2; }

work=$(mktemp -d /dev/shm/poolflow-peers.XXXXXX)
old_rmem=$(sysctl -n net.core.rmem_max)
nfcapd_pid=
cleanup() {
  [[ -n $nfcapd_pid ]] && kill "$nfcapd_pid" 2>/dev/null || true
  sysctl -qw net.core.rmem_max="$old_rmem"
  rm -rf "$work"
}
trap cleanup EXIT
sysctl -qw net.core.rmem_max=67108864

"$build/perf/poolflow-gen" --out "$work/in.pcap" --manifest "$work/manifest.csv" \
  --packets "$packets" --flows "$flows" --sizes 64 --seed 9 >/dev/null
read -r want_flows want_packets want_octets < <(awk -F, 'NR > 1 { n++; p += $8; o += $9 }
  END { print n, p, o }' "$work/manifest.csv")

# softflowd → nfcapd (UDP, loopback)
mkdir "$work/nfcapd"
timeout 600 nfcapd -b 127.0.0.1 -p "$port" -w "$work/nfcapd" -t 3600 -B 67108864 >/dev/null 2>&1 &
nfcapd_pid=$!
sleep 1
/usr/bin/time -f "%U %S" -o "$work/softflowd.time" \
  timeout 600 softflowd -r "$work/in.pcap" -n "127.0.0.1:$port" -v 10 -m $((flows * 2)) -d &>/dev/null
sleep 1
kill -INT "$nfcapd_pid"
wait "$nfcapd_pid" || true
nfcapd_pid=
read -r soft_flows soft_packets soft_octets < <(nfdump -R "$work/nfcapd" -q -o "fmt:%pkt %byt" |
  awk '{ n++; p += $1; o += $2 } END { print n + 0, p + 0, o + 0 }')
soft_cpu=$(awk '{ print $1 + $2 }' "$work/softflowd.time")

# poolflowd → IPFIX file, with the flow capacity softflowd was given (-m)
/usr/bin/time -f "%U %S" -o "$work/poolflowd.time" \
  "$build/src/poolflowd" --pcap "$work/in.pcap" --output "file:$work/out.ipfix" \
  --set log.stats_interval_s=0 --set meter.flow_table_size=$((flows * 2)) \
  >"$work/summary.txt" 2>/dev/null
pool_cpu=$(awk '{ print $1 + $2 }' "$work/poolflowd.time")
pool_worker=$(sed -nE 's/^ +worker [0-9]+ .*, ([0-9.]+) s CPU$/\1/p' "$work/summary.txt" |
  awk '{ s += $1 } END { print s }')
read -r pool_flows pool_packets pool_octets < <(/usr/bin/python3 - "$work/out.ipfix" <<'PY'
import sys
sys.path.insert(0, "scripts")
from ipfix_summary import read_ipfixdump
records, _ = read_ipfixdump(sys.argv[1])
print(len(records), sum(int(r["packetDeltaCount"]) for r in records),
      sum(int(r["octetDeltaCount"]) for r in records))
PY
)

per_mpkt() { awk -v s="$1" -v n="$packets" 'BEGIN { printf "%.3f", s / n * 1e6 }'; }
echo "compare-peers: $packets 64-byte packets, $want_flows flows (manifest: $want_packets packets, $want_octets octets)"
printf '  %-34s %10s %12s %14s %20s\n' "" flows packets octets "CPU s / M packets"
printf '  %-34s %10s %12s %14s %20s\n' "softflowd -r (→ nfcapd)" "$soft_flows" "$soft_packets" \
  "$soft_octets" "$(per_mpkt "$soft_cpu")"
printf '  %-34s %10s %12s %14s %20s\n' "poolflowd --pcap, whole process" "$pool_flows" "$pool_packets" \
  "$pool_octets" "$(per_mpkt "$pool_cpu")"
printf '  %-34s %10s %12s %14s %20s\n' "poolflowd worker core only" "" "" "" "$(per_mpkt "$pool_worker")"
awk -v s="$soft_cpu" -v p="$pool_cpu" -v w="$pool_worker" \
  'BEGIN { printf "  poolflowd needs %.1fx less CPU than softflowd (whole process), %.1fx (worker core)\n", s / p, s / w }'
if [[ "$soft_packets $soft_octets" == "$want_packets $want_octets" &&
      "$pool_packets $pool_octets" == "$want_packets $want_octets" &&
      $soft_flows == "$want_flows" && $pool_flows == "$want_flows" ]]; then
  echo "  totals: identical (flows, packets, octets) in softflowd, poolflowd and the manifest"
else
  echo "  totals: DIFFER"
  exit 1
fi
