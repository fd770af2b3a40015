#!/usr/bin/env bash
# Handle resolutions per second that a running poolflow-registrar answers over
# usrsctp (UDP encapsulation on loopback), the pool user and the registrar on
# this host's cores: a pool "load" of 10 elements, resolved by tests/tools/
# asap_peer with 1, 8 and 32 requests outstanding, 3 s per run, median of N
# runs, and the registrar's CPU (all its threads) over the runs. The state
# machine's own rate, without sockets, is perf/bench/registrar_bench.
#   perf/rserpool-resolve-load.sh [--runs N] [--build DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=3 build=build
while (($#)); do
  case $1 in
    --runs) runs=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "rserpool-resolve-load: unknown argument $1" >&2; exit 2 ;;
  esac
done
pids=()
trap 'kill -KILL "${pids[@]}" 2>/dev/null || true' EXIT
asap=38690 reg_udp=39990
at="127.0.0.1:$asap/$reg_udp"
"$build/src/poolflow-registrar" --asap "127.0.0.1:$asap" --set sctp.udp_encaps_port=$reg_udp \
  --set registrar.allow_loopback=true >/dev/null 2>&1 &
registrar=$!
pids+=($registrar)
sleep 0.5
"$build/tests/asap_peer" --registrar "$at" hold 10 >/dev/null &
pids+=($!)
sleep 1
ticks() { awk '{ print $14 + $15 }' /proc/$registrar/stat; }
hz=$(getconf CLK_TCK)
for window in 1 8 32; do
  rates=()
  t0=$(ticks) s0=$(date +%s%N)
  for ((i = 0; i < runs; i++)); do
    line=$("$build/tests/asap_peer" --registrar "$at" resolve-load $window)
    rates+=("$(sed -E 's/^resolve-load: ([0-9]+) .*/\1/' <<<"$line")")
  done
  t1=$(ticks) s1=$(date +%s%N)
  median=$(printf '%s\n' "${rates[@]}" | sort -n | sed -n "$(( (runs + 1) / 2 ))p")
  cpu=$(( (t1 - t0) * 100 * 1000000000 / hz / (s1 - s0) ))
  echo "outstanding $window: median $median resolutions/s (runs: ${rates[*]}), registrar CPU $cpu % of one core"
done
