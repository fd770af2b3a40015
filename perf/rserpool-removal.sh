#!/usr/bin/env bash
# Time from SIGKILL of a collector (a pool element) to its removal from the
# registrar's handlespace, with default settings (only loopback allowed, as
# everything runs on this host), over N kills: p50, p99 and max. The removal
# is seen from outside: poolflow-pool resolves the pool in a loop until the
# killed collector is no longer listed, so a figure is an upper bound, late by
# at most one resolution (its length is printed too).
#   perf/rserpool-removal.sh [--kills N] [--build DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
kills=20 build=build
while (($#)); do
  case $1 in
    --kills) kills=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "rserpool-removal: unknown argument $1" >&2; exit 2 ;;
  esac
done
work=$(mktemp -d /tmp/poolflow-perf.XXXXXX)
pids=()
trap 'kill -KILL "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT
asap=38660 reg_udp=39960
at="127.0.0.1:$asap/$reg_udp"
now_us() { echo $(( $(date +%s%N) / 1000 )); }

"$build/src/poolflow-registrar" --asap "127.0.0.1:$asap" --set sctp.udp_encaps_port=$reg_udp \
  --set registrar.allow_loopback=true >"$work/registrar.txt" 2>"$work/registrar.log" &
pids+=($!)
sleep 0.5

# Two collectors stay in the pool throughout, so that it never empties.
for n in 1 2; do
  "$build/src/poolflow-collector" --listen "sctp:127.0.0.1:4746$n" \
    --set sctp.udp_encaps_port=3996$n --pool removal --registrar "$at" >/dev/null 2>&1 &
  pids+=($!)
done

times=() polls=()
for ((i = 0; i < kills; i++)); do
  "$build/src/poolflow-collector" --listen "sctp:127.0.0.1:47469" \
    --set sctp.udp_encaps_port=39969 --pool removal --registrar "$at" >/dev/null \
    2>"$work/victim.log" &
  victim=$!
  until grep -q "registered" "$work/victim.log"; do sleep 0.01; done
  sleep 0.$((RANDOM % 9 + 1))  # kill at a random point of the heartbeat cycle
  kill -KILL $victim
  killed=$(now_us)
  wait $victim 2>/dev/null || true
  n=0
  while "$build/src/poolflow-pool" --registrar "$at" resolve removal 2>/dev/null | grep -q ":47469/"; do
    n=$((n + 1))
    (( $(now_us) - killed < 30000000 )) || { echo "not removed within 30 s" >&2; exit 1; }
  done
  gone=$(now_us)
  times+=($(( (gone - killed) / 1000 )))
  polls+=($(( (gone - killed) / (n + 1) / 1000 )))
done
sorted=($(printf '%s\n' "${times[@]}" | sort -n))
p() { echo "${sorted[$(( ($1 * ${#sorted[@]} + 99) / 100 - 1 ))]}"; }
echo "removal after SIGKILL, ms, $kills kills: ${times[*]}"
echo "p50 $(p 50) ms, p99 $(p 99) ms, max ${sorted[-1]} ms" \
  "(one resolution takes about $(printf '%s\n' "${polls[@]}" | sort -n | sed -n "$(( (kills + 1) / 2 ))p") ms)"
