#!/usr/bin/env bash
# poolflowd as pool user, on loopback: one poolflow-registrar, three
# poolflow-collectors in one pool (round robin), real processes. Medians of R runs:
# 1. Start to first record stored: from poolflowd's launch (EAL start-up included)
#    until a collector counts a record (SIGUSR1 every 10 ms), exporting through the
#    pool (--pool, pool.sessions = 1) against the baseline of a fixed
#    `--output sctp:` to the same collector, in the same run.
# 2. Handle resolution latency: poolflowd re-resolves every 20 ms (pool.stale_cache_ms)
#    for a few seconds; dumpcap on the registrar's UDP encapsulation port and tshark's
#    asap dissector give each HANDLE_RESOLUTION's time to its RESPONSE. p50, p99.
# 3. Records/s into three collectors (pool.sessions = 3) against one (pool.sessions
#    = 1): a pcap whose flows all end at once; the rate is what the collectors
#    stored over the span of their messages (all records over the longest span).
#    Every record is sent reliable here, so that the collectors must hold them all
#    (rtx:2, the default for UDP flows, lets PR-SCTP abandon some under this load).
#   perf/rserpool-pool-export.sh [--runs R] [--flows F] [--build DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=5 flows=300000 build=build
while (($#)); do
  case $1 in
    --runs) runs=$2; shift 2 ;;
    --flows) flows=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "rserpool-pool-export: unknown argument $1" >&2; exit 2 ;;
  esac
done
work=$(mktemp -d /dev/shm/poolflow-perf.XXXXXX)
pids=()
trap 'kill -KILL "${pids[@]}" 2>/dev/null || true; [[ -n ${KEEP:-} ]] || rm -rf "$work"' EXIT
asap=38670 reg_udp=39970
at="127.0.0.1:$asap/$reg_udp"
now_us() { echo $(($(date +%s%N) / 1000)); }
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
percentile() { sort -n | awk -v p="$1" '{ v[NR] = $1 } END { i = int((p * NR + 99) / 100); print v[i < 1 ? 1 : i] }'; }

"$build/src/poolflow-registrar" --asap "127.0.0.1:$asap" --set sctp.udp_encaps_port=$reg_udp \
  --set registrar.allow_loopback=true >"$work/registrar.txt" 2>"$work/registrar.log" &
pids+=($!)
until grep -q "listening for ASAP" "$work/registrar.log"; do sleep 0.05; done
declare -A collector
start_collectors() {
  for n in 1 2 3; do
    "$build/src/poolflow-collector" --listen "sctp:127.0.0.1:4747$n" \
      --set "sctp.udp_encaps_port=3997$n" --pool perf-pool --registrar "$at" \
      >"$work/c$n.txt" 2>"$work/c$n.log" &
    collector[$n]=$!
    pids+=($!)
  done
  for n in 1 2 3; do until grep -q "registered" "$work/c$n.log"; do sleep 0.05; done; done
}
stop_collectors() {
  kill -INT "${collector[@]}"
  wait "${collector[@]}" 2>/dev/null || true
}
stored() {  # records the collectors hold, from their last statistics lines
  local total=0 n r
  for n in 1 2 3; do
    r=$(grep -oP "total: messages \d+ \(\d+ octets\), records \K\d+" "$work/c$n.txt" | tail -n 1 || true)
    total=$((total + ${r:-0}))
  done
  echo $total
}

"$build/perf/poolflow-gen" --out "$work/small.pcap" --packets 20000 --flows 2000 --seed 3 >/dev/null
"$build/perf/poolflow-gen" --out "$work/big.pcap" --packets $((flows * 2)) --flows "$flows" \
  --sizes 64 --seed 1 >/dev/null

# 1. Start to first record stored.
first_record() {  # first_record POOLFLOWD-ARGS...: ms from launch to a record at a collector, in $ms
  start_collectors
  local t0
  t0=$(now_us)
  "$build/src/poolflowd" --pcap "$work/small.pcap" --set 'log.level="warn"' "$@" \
    >/dev/null 2>"$work/p.log" &
  local p=$!
  while :; do
    kill -USR1 "${collector[@]}"
    sleep 0.01
    (($(stored) > 0)) && break
    (($(now_us) - t0 < 30000000)) || { echo "no record within 30 s" >&2; exit 1; }
  done
  ms=$((($(now_us) - t0) / 1000))
  wait $p
  stop_collectors
}
fixed=() pooled=()
for _ in $(seq "$runs"); do
  first_record --output sctp:127.0.0.1:47471 --set sctp.remote_udp_port=39971
  fixed+=($ms)
  first_record --pool perf-pool --registrar "$at"
  pooled+=($ms)
done
f=$(printf '%s\n' "${fixed[@]}" | median)
p=$(printf '%s\n' "${pooled[@]}" | median)
echo "1. start to first record stored: pool $p ms, fixed sctp output $f ms (median of $runs;" \
  "pool ${pooled[*]}; fixed ${fixed[*]}); pool/fixed $(awk -v a="$p" -v b="$f" 'BEGIN { printf "%.2f", a / b }')"

# 2. Handle resolution latency on the wire.
start_collectors
dumpcap -q -i lo -f "udp port $reg_udp" -w "$work/asap.pcapng" 2>"$work/dumpcap.log" &
capture=$!
pids+=($capture)
sleep 1
"$build/src/poolflowd" --set 'input.devices=["net_null0"]' --pool perf-pool --registrar "$at" \
  --set pool.stale_cache_ms=20 --set 'log.level="warn"' >/dev/null 2>"$work/p.log" &
p=$!
sleep $((runs > 5 ? runs : 5))
kill -INT $p
wait $p || true
sleep 1
kill -INT $capture
wait $capture || true
stop_collectors
tshark -r "$work/asap.pcapng" -d "udp.port==$reg_udp,sctp" -Y "asap.message_type == 5 || asap.message_type == 6" \
  -T fields -e frame.time_epoch -e asap.message_type -E occurrence=f |
  awk '$2 == 5 { sent = $1 } $2 == 6 && sent { printf "%.0f\n", ($1 - sent) * 1e6; sent = 0 }' \
    >"$work/latency.txt"
n=$(wc -l <"$work/latency.txt")
((n > 0)) || { echo "no resolution on the wire" >&2; exit 1; }
echo "2. handle resolution latency (tshark, request to response, $n resolutions):" \
  "p50 $(percentile 50 <"$work/latency.txt") us, p99 $(percentile 99 <"$work/latency.txt") us," \
  "max $(sort -n "$work/latency.txt" | tail -n 1) us"

# 3. Records/s into three collectors against one.
rate() {  # rate SESSIONS: records/s the collectors stored, in $rate
  start_collectors
  "$build/src/poolflowd" --pcap "$work/big.pcap" --pool perf-pool --registrar "$at" \
    --set pool.sessions="$1" --set export.send_queue_kib=262144 --set 'log.level="warn"' \
    --set 'export.other_flows="reliable"' \
    >"$work/summary.txt" 2>/dev/null
  local sent
  sent=$(($(grep -oP "exported to \S+: \K\d+(?= records)" "$work/summary.txt" | paste -sd+)))
  for _ in $(seq 100); do
    kill -USR1 "${collector[@]}"
    sleep 0.1
    (($(stored) >= sent)) && break
  done
  stop_collectors
  local n line r s span=0 got=0
  for n in 1 2 3; do
    line=$(grep "total:" "$work/c$n.txt" | tail -n 1 || true)
    r=$(grep -oP "octets\), records \K\d+" <<<"$line" || true)
    s=$(grep -oP "over \K[0-9.]+(?= s)" <<<"$line" || true)
    got=$((got + ${r:-0}))
    span=$(awk -v a="$span" -v b="${s:-0}" 'BEGIN { print (b > a ? b : a) }')
  done
  ((got == sent)) || { echo "the collectors hold $got records of $sent" >&2; exit 1; }
  rate=$(awk -v n="$got" -v s="$span" 'BEGIN { printf "%.0f\n", (s > 0 ? n / s : 0) }')
}
one=() three=() ratios=()
for _ in $(seq "$runs"); do
  rate 1
  a=$rate
  rate 3
  b=$rate
  one+=("$a") three+=("$b")
  ratios+=("$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", a ? b / a : 0 }')")
done
echo "3. records/s ($flows records): pool.sessions=3 $(printf '%s\n' "${three[@]}" | median)," \
  "pool.sessions=1 $(printf '%s\n' "${one[@]}" | median) (medians of $runs); 3/1 per run" \
  "${ratios[*]}, median $(printf '%s\n' "${ratios[@]}" | median)"
