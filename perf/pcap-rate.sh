#!/usr/bin/env bash
# Packets per second of `poolflowd --pcap` (playback into mbufs → worker → IPFIX file),
# median of several runs. The pcap is generated in /dev/shm (page cache here is
# small) and removed afterwards.
#   perf/pcap-rate.sh [--packets N] [--flows F] [--sizes 64|imix] [--runs R] [--build DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
packets=5000000 flows=100000 sizes=64 runs=5 build=build
while (($#)); do
  case $1 in
    --packets) packets=$2; shift 2 ;;
    --flows) flows=$2; shift 2 ;;
    --sizes) sizes=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) echo "pcap-rate: unknown argument $1" >&2; exit 2 ;;
  esac
done
work=$(mktemp -d /dev/shm/poolflow-perf.XXXXXX)
trap 'rm -rf "$work"' EXIT

"$build/perf/poolflow-gen" --out "$work/in.pcap" --packets "$packets" --flows "$flows" \
  --sizes "$sizes" --seed 1 >/dev/null
rates=()
for ((i = 0; i < runs; i++)); do
  line=$("$build/src/poolflowd" --pcap "$work/in.pcap" --output "file:$work/out.ipfix" \
    --set log.stats_interval_s=0 2>/dev/null | grep "packets received")
  rates+=("$(sed -E 's/.*: ([0-9]+) packets\/s/\1/' <<<"$line")")
done
median=$(printf '%s\n' "${rates[@]}" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
echo "pcap-rate: $packets packets ($sizes B frames, $flows flows), $runs runs:" \
  "median $median packets/s (runs: ${rates[*]})"
