#!/usr/bin/env bash
# Replays a pcap with tcpreplay into a veth pair inside a network namespace this
# script creates (and removes), with poolflowd capturing the other end through
# DPDK's net_af_packet as a live port. Prints what tcpreplay sent against what
# poolflowd counted, then poolflowd's exit summary.
#   scripts/tcpreplay-veth.sh --pcap FILE [--pps N | --topspeed] [--loop N]
#                          [--output SPEC] [--seconds MAX] [--build DIR] [-- POOLFLOWD ARGS...]
# Needs root (ip netns). Run time is bounded by --seconds (default 60).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/poolflowd-run.sh
pcap= rate=(--pps 20000) loop=1 output= seconds=60 build=build extra=()
usage() { sed -n '2,8p' "$0"; }
while (($#)); do
  case $1 in
    --pcap) pcap=$2; shift 2 ;;
    --pps) rate=(--pps "$2"); shift 2 ;;
    --topspeed) rate=(--topspeed); shift ;;
    --loop) loop=$2; shift 2 ;;
    --output) output=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) usage; exit 0 ;;
    *) echo "tcpreplay-veth: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
done
[[ -n $pcap && -r $pcap ]] || { echo "tcpreplay-veth: --pcap FILE is needed (readable)" >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || { echo "tcpreplay-veth: needs root for ip netns" >&2; exit 2; }
command -v tcpreplay >/dev/null || { echo "tcpreplay-veth: needs tcpreplay (scripts/setup.sh)" >&2; exit 2; }

ns=poolflow-playback-$$
work=$(mktemp -d /tmp/poolflow-playback.XXXXXX)
[[ -n $output ]] || output="file:$work/flows.ipfix"
pid=
cleanup() {
  # $pid is timeout(1): a SIGKILL to it alone would leave poolflowd running.
  if [[ -n $pid ]]; then pkill -KILL -P "$pid" 2>/dev/null; kill -KILL "$pid" 2>/dev/null; fi || true
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

ip netns add "$ns"
ip -n "$ns" link add pfgen type veth peer name pfcap
for dev in pfgen pfcap; do
  # No IPv6 on the pair: the kernel's own router solicitations would be metered.
  ip netns exec "$ns" sysctl -qw "net.ipv6.conf.$dev.disable_ipv6=1"
  ip -n "$ns" link set "$dev" up
done

touch "$work/log.txt"
ip netns exec "$ns" timeout "$seconds" "$build/src/poolflowd" \
  --set 'input.devices=["net_af_packet0,iface=pfcap,framecnt=4096"]' --output "$output" \
  --set log.stats_interval_s=0 "${extra[@]}" >"$work/summary.txt" 2>"$work/log.txt" &
pid=$!
wait_for_poolflowd "$pid" "$work/log.txt"
sleep 0.5  # the worker lcores start polling just after that line

# tcpreplay on the control core's CPU (0 by default), away from the polling worker.
ip netns exec "$ns" timeout "$seconds" taskset -c 0 tcpreplay -i pfgen "${rate[@]}" --loop "$loop" "$pcap" \
  >"$work/tcpreplay.txt" 2>&1 || { cat "$work/tcpreplay.txt" >&2; exit 1; }
sleep 1  # let the last packets reach the worker
kill -INT "$pid"
rc=0
wait "$pid" || rc=$?
pid=
sent=$(sed -nE 's/^Actual: ([0-9]+) packets.*/\1/p' "$work/tcpreplay.txt")
received=$(received_packets "$work/summary.txt")
echo "tcpreplay-veth: tcpreplay sent ${sent:-?} packets (${rate[*]}, loop $loop); poolflowd received ${received:-?} on net_af_packet"
cat "$work/summary.txt"
exit "$rc"
