#!/usr/bin/env bash
# Generates a pcap with poolflow-gen and plays it through poolflowd --pcap
# (played back into DPDK mbufs): prints what was generated against what poolflowd counted and
# exported, then its exit summary. Generator options pass through.
#   scripts/gen-play.sh [--build DIR] [--output SPEC] [--seconds MAX] [-- POOLFLOW-GEN ARGS...]
#   e.g. scripts/gen-play.sh -- --packets 1000000 --flows 50000 --sizes imix --ipv6 0.3
# Run time is bounded by --seconds (default 300). The pcap lives in /dev/shm
# while the script runs.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/poolflowd-run.sh
build=build output= seconds=300 gen_args=()
usage() { sed -n '2,8p' "$0"; }
while (($#)); do
  case $1 in
    --build) build=$2; shift 2 ;;
    --output) output=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --) shift; gen_args=("$@"); break ;;
    -h|--help) usage; exit 0 ;;
    *) echo "gen-play: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
done
work=$(mktemp -d /dev/shm/poolflow-gen-play.XXXXXX)
trap 'rm -rf "$work"' EXIT
[[ -n $output ]] || output="file:$work/flows.ipfix"

timeout "$seconds" "$build/perf/poolflow-gen" --out "$work/in.pcap" --manifest "$work/manifest.csv" \
  "${gen_args[@]}"
read -r flows packets octets < <(awk -F, 'NR > 1 { n++; p += $8 + $10; o += $9 + $11 }
  END { print n, p, o }' "$work/manifest.csv")
timeout "$seconds" "$build/src/poolflowd" --pcap "$work/in.pcap" --output "$output" \
  --set log.stats_interval_s=0 >"$work/summary.txt" 2>"$work/log.txt" ||
  { cat "$work/log.txt" >&2; exit 1; }
received=$(received_packets "$work/summary.txt")
parsed=$(sed -nE 's/ *packets parsed +([0-9]+)$/\1/p' "$work/summary.txt")
records=$(grep -oP "exported to \S+: \K\d+(?= records)" "$work/summary.txt" | awk "{ n += \$1 } END { print n }")
echo "gen-play: generated $packets packets, $octets IP octets in $flows flows;" \
  "poolflowd received $received, parsed $parsed, exported $records records to $output"
cat "$work/summary.txt"
[[ $received == "$packets" && $parsed == "$packets" ]]
