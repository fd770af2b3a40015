#!/usr/bin/env bash
# Records/s and messages/s from poolflowd to poolflow-collector on loopback (two
# processes), next to the raw message rate of the same transport measured by
# poolflow-transport-bench (same message size, same settings, no IPFIX), for SCTP,
# TCP and UDP. The exporter plays a pcap whose flows all end at once (forced end
# at the end of the capture), so the export runs flat out; rates are taken between
# the first and the last message at the receiver. Median of several runs.
#   perf/export-rate.sh [--flows F] [--runs R] [--kinds "sctp tcp udp"] [--build DIR]
#                       [--set KEY=VALUE]...   (poolflowd settings, e.g. export.tcp_flows=\"rtx:2\")
set -euo pipefail
cd "$(dirname "$0")/.."
flows=1000000 runs=3 kinds="sctp tcp udp" build=build port=47460 sets=()
while (($#)); do
  case $1 in
    --flows) flows=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --kinds) kinds=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --set) sets+=(--set "$2"); shift 2 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "export-rate: unknown argument $1" >&2; exit 2 ;;
  esac
done
work=$(mktemp -d /dev/shm/poolflow-perf.XXXXXX)
trap 'rm -rf "$work"' EXIT
"$build/perf/poolflow-gen" --out "$work/flows.pcap" --packets $((flows * 2)) --flows "$flows" \
  --sizes 64 --seed 1 >/dev/null

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

printf '| transport | raw messages/s | export messages/s | export records/s | export/raw | lost |\n'
printf '|---|---|---|---|---|---|\n'
for kind in $kinds; do
  raw=() msgs=() recs=() lost=0
  for _ in $(seq "$runs"); do
    # Export: poolflowd → poolflow-collector.
    "$build/src/poolflow-collector" --listen "$kind:127.0.0.1:$port" >"$work/c.txt" 2>"$work/c.log" &
    collector=$!
    sleep 0.5
    timeout 300 "$build/src/poolflowd" --pcap "$work/flows.pcap" --output "$kind:127.0.0.1:$port" \
      --set 'log.level="warn"' --set export.send_queue_kib=262144 "${sets[@]}" >"$work/p.txt" 2>/dev/null
    sleep 1
    kill -INT "$collector"
    wait "$collector" || true
    total=$(grep "total:" "$work/c.txt")
    messages=$(sed -E 's/.*messages ([0-9]+) .*/\1/' <<<"$total")
    seconds=$(sed -E 's/.* over ([0-9.]+) s.*/\1/' <<<"$total")
    recs+=("$(sed -E 's/.* ([0-9]+) records\/s.*/\1/' <<<"$total")")
    msgs+=("$(awk -v m="$messages" -v s="$seconds" 'BEGIN { printf "%.0f", m / s }')")
    lost=$((lost + $(sed -E 's/.*lost ([0-9]+) in.*/\1/' <<<"$total")))
    # Raw: as many messages of the same size through the same transport.
    "$build/perf/poolflow-transport-bench" --listen "$kind:127.0.0.1:$port" --expect "$messages" \
      --timeout 60 >"$work/r.txt" 2>/dev/null &
    receiver=$!
    sleep 0.5
    "$build/perf/poolflow-transport-bench" --send "$kind:127.0.0.1:$port" --messages "$messages" \
      --size 1400 >/dev/null 2>&1 || true
    wait "$receiver" || true  # UDP may lose some: the rate is still the rate received
    raw+=("$(grep -oP '[0-9]+(?= messages/s)' "$work/r.txt" || echo 0)")
  done
  r=$(printf '%s\n' "${raw[@]}" | median)
  m=$(printf '%s\n' "${msgs[@]}" | median)
  n=$(printf '%s\n' "${recs[@]}" | median)
  printf '| %s | %s | %s | %s | %s | %s |\n' "$kind" "$r" "$m" "$n" \
    "$(awk -v a="$m" -v b="$r" 'BEGIN { printf "%.2f", b ? a / b : 0 }')" "$lost"
done
