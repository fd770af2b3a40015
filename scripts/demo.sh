#!/usr/bin/env bash
# The main job end to end on an embedded default: set-up, build, a generated
# pcap played back into DPDK mbufs (EAL without hugepages or NIC) by poolflowd,
# an IPFIX file out, a human summary, and an independent decode (ipfixDump).
#   scripts/demo.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${1:-build}

scripts/setup.sh "$build_dir"
meson compile -C "$build_dir" >/dev/null

work=$(mktemp -d /tmp/poolflow-demo.XXXXXX)
collector=
pool_pids=()
trap 'kill -KILL $collector "${pool_pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT

# start_registrar NAME: a registrar on 127.0.0.1:3863, its output in $work/NAME.txt and .log.
start_registrar() {
  "$build_dir/src/poolflow-registrar" --asap 127.0.0.1:3863 --set registrar.allow_loopback=true \
    >"$work/$1.txt" 2>"$work/$1.log" &
  pool_pids+=($!)
  for _ in $(seq 100); do grep -q "listening for ASAP" "$work/$1.log" && break; sleep 0.1; done
}

echo "== 1. poolflow-gen: 200000 packets in 5000 flows (IPv4/IPv6, VLANs, IMIX, TCP SYN..FIN)"
"$build_dir/perf/poolflow-gen" --out "$work/demo.pcap" --manifest "$work/manifest.csv" \
  --packets 200000 --flows 5000 --ipv6 0.3 --vlan 0.2 --sizes imix --tcp-syn-fin --seed 2026

echo
echo "== 2. poolflowd --pcap demo.pcap --output file:flows.ipfix   (DPDK EAL, pcap played back into mbufs)"
start=$(date +%s.%N)
"$build_dir/src/poolflowd" -c conf/poolflowd.toml --pcap "$work/demo.pcap" \
  --output "file:$work/flows.ipfix"
end=$(date +%s.%N)
awk -v s="$start" -v e="$end" 'BEGIN { printf "(whole run, EAL start-up included: %.2f s)\n", e - s }'

echo
echo "== 3. What the IPFIX file says (decoded by libfixbuf's ipfixDump)"
/usr/bin/python3 scripts/ipfix_summary.py "$work/flows.ipfix"

echo
echo "== 4. ipfixDump -i flows.ipfix (the template message's header, then the first data record)"
ipfixDump -i "$work/flows.ipfix" >"$work/dump.txt"
sed -n '1,7p' "$work/dump.txt"
echo "   ..."
sed -n '/--- data record 1 ---/,/flowEndReason/p' "$work/dump.txt" | head -n 20
echo "   ..."
tail -n 1 "$work/dump.txt"

echo
echo "== 5. Check against the generator's manifest (ipfixDump per flow, tshark totals)"
/usr/bin/python3 tests/integration/check_ipfix.py --ipfix "$work/flows.ipfix" \
  --manifest "$work/manifest.csv"

echo
echo "== 6. The same capture over SCTP (usrsctp, UDP encapsulation on port 9899, PR-SCTP):"
echo "   poolflow-collector --listen sctp:127.0.0.1:4739 --write file:DIR"
echo "   poolflowd --pcap demo.pcap --output sctp:127.0.0.1:4739"
mkdir "$work/collected"
"$build_dir/src/poolflow-collector" -c conf/collector.toml --listen sctp:127.0.0.1:4739 \
  --write "file:$work/collected" >"$work/collector.txt" 2>"$work/collector.log" &
collector=$!
for _ in $(seq 100); do
  grep -q "listening on" "$work/collector.log" && break
  sleep 0.1
done
sed -n '1p' "$work/collector.log"
"$build_dir/src/poolflowd" -c conf/poolflowd.toml --pcap "$work/demo.pcap" \
  --output sctp:127.0.0.1:4739 2>/dev/null >"$work/sctp-summary.txt"
grep "exported to" "$work/sctp-summary.txt"
sent=$(grep -oP "exported to sctp:\S+ \K\d+(?= records)" "$work/sctp-summary.txt")
for _ in $(seq 50); do  # until the collector has every record (SIGUSR1: statistics), at most 5 s
  kill -USR1 "$collector"
  sleep 0.1
  grep -q "total: .* records $sent," "$work/collector.txt" && break
done
kill -INT "$collector"
wait "$collector" || true
collector=
echo "collector statistics at exit:"
tail -n 1 "$work/collector.txt"
echo
echo "== 7. What the collector wrote (RFC 5655 files, decoded by ipfixDump) against the manifest"
cat "$work"/collected/*.ipfix >"$work/collected.ipfix"
/usr/bin/python3 scripts/ipfix_summary.py "$work/collected.ipfix"
/usr/bin/python3 tests/integration/check_ipfix.py --ipfix "$work/collected.ipfix" \
  --manifest "$work/manifest.csv" --no-sequence-check

echo
echo "== 8. RSerPool: a registrar, 3 collectors that register as pool elements, poolflow-pool resolve,"
echo "   nfcapd registered by poolflow-collector --register-only"
echo "   poolflow-registrar --asap 127.0.0.1:3863 --set registrar.allow_loopback=true"
echo "   poolflow-collector --listen sctp:127.0.0.1:474N --set sctp.udp_encaps_port=991N \\"
echo "     --pool ipfix-collectors --registrar 127.0.0.1:3863          (N = 1, 2, 3)"
start_registrar registrar
sed -n '1p' "$work/registrar.log"
for n in 1 2 3; do
  "$build_dir/src/poolflow-collector" --listen "sctp:127.0.0.1:474$n" --set "sctp.udp_encaps_port=991$n" \
    --pool ipfix-collectors --registrar 127.0.0.1:3863 >"$work/pe$n.txt" 2>"$work/pe$n.log" &
  pool_pids+=($!)
done
for n in 1 2 3; do
  for _ in $(seq 100); do grep -q "registered" "$work/pe$n.log" && break; sleep 0.1; done
done
echo "-- poolflow-pool --registrar 127.0.0.1:3863 resolve ipfix-collectors"
"$build_dir/src/poolflow-pool" --registrar 127.0.0.1:3863 resolve ipfix-collectors
echo "-- SIGKILL the first collector; the registrar removes it when its ASAP association dies:"
kill -KILL "${pool_pids[1]}"
start=$(date +%s%N)
while "$build_dir/src/poolflow-pool" --registrar 127.0.0.1:3863 resolve ipfix-collectors | grep -q ":4741/"; do
  sleep 0.02
done
echo "   gone after $(( ($(date +%s%N) - start) / 1000000 )) ms:"
"$build_dir/src/poolflow-pool" --registrar 127.0.0.1:3863 resolve ipfix-collectors
echo "-- nfcapd (which speaks no ASAP) joins through a register-only proxy that checks it:"
echo "   poolflow-collector --register-only --target udp:127.0.0.1:9995 --pool ipfix-collectors \\"
echo "     --registrar 127.0.0.1:3863"
mkdir -p "$work/nfcapd"
nfcapd -b 127.0.0.1 -p 9995 -w "$work/nfcapd" -t 3600 >"$work/nfcapd.log" 2>&1 &
nfcapd_pid=$!
pool_pids+=($nfcapd_pid)
"$build_dir/src/poolflow-collector" --register-only --target udp:127.0.0.1:9995 \
  --pool ipfix-collectors --registrar 127.0.0.1:3863 >"$work/proxy.txt" 2>"$work/proxy.log" &
pool_pids+=($!)
for _ in $(seq 100); do grep -q "registered" "$work/proxy.log" && break; sleep 0.1; done
echo "-- poolflow-pool --registrar 127.0.0.1:3863 resolve ipfix-collectors-udp"
"$build_dir/src/poolflow-pool" --registrar 127.0.0.1:3863 resolve ipfix-collectors-udp
kill -TERM $nfcapd_pid
start=$(date +%s%N)
while "$build_dir/src/poolflow-pool" --registrar 127.0.0.1:3863 resolve ipfix-collectors-udp 2>/dev/null \
  | grep -q ":9995"; do
  sleep 0.02
done
echo "   nfcapd stopped: out of the pool after $(( ($(date +%s%N) - start) / 1000000 )) ms (its checks failed twice)"
kill -TERM "${pool_pids[2]}" "${pool_pids[3]}" "${pool_pids[5]}"
wait "${pool_pids[2]}" "${pool_pids[3]}" "${pool_pids[5]}" || true
kill -INT "${pool_pids[0]}"
wait "${pool_pids[0]}" || true
pool_pids=()
echo "registrar statistics at exit:"
sed -n '1,3p' "$work/registrar.txt"

echo
echo "== 9. poolflowd exports through the pool: it knows the pool handle and a registrar, not the"
echo "   collectors. 3 collectors register in ipfix-collectors with weighted round robin 1:2:3;"
echo "   pool.sessions = 3 exports to all three at once, records shared by flow-key hash."
echo "   poolflowd --pcap demo.pcap --pool ipfix-collectors --registrar 127.0.0.1:3863 --set pool.sessions=3"
start_registrar registrar9
for n in 1 2 3; do
  mkdir -p "$work/pool$n"
  "$build_dir/src/poolflow-collector" --listen "sctp:127.0.0.1:475$n" --set "sctp.udp_encaps_port=992$n" \
    --pool ipfix-collectors --registrar 127.0.0.1:3863 --set 'pool.policy="weighted-roundrobin"' \
    --set "pool.weight=$n" --write "file:$work/pool$n" >"$work/pool$n.txt" 2>"$work/pool$n.log" &
  pool_pids+=($!)
done
for n in 1 2 3; do
  for _ in $(seq 100); do grep -q "registered" "$work/pool$n.log" && break; sleep 0.1; done
done
"$build_dir/src/poolflowd" -c conf/poolflowd.toml --pcap "$work/demo.pcap" --pool ipfix-collectors \
  --registrar 127.0.0.1:3863 --set pool.sessions=3 >"$work/pool-summary.txt" 2>"$work/pool-log.txt"
grep -E "home registrar|resolved to|records shared|pool ipfix-collectors" "$work/pool-log.txt" \
  | cut -c 25-
grep "exported to" "$work/pool-summary.txt"
sent=$(($(grep -oP "exported to \S+: \K\d+(?= records)" "$work/pool-summary.txt" | paste -sd+)))
for _ in $(seq 50); do  # until the collectors together have every record, at most 5 s
  total=0
  for n in 1 2 3; do kill -USR1 "${pool_pids[$n]}"; done
  sleep 0.1
  for n in 1 2 3; do
    got=$(grep -oP "total: messages \d+ \(\d+ octets\), records \K\d+" "$work/pool$n.txt" | tail -n 1)
    total=$((total + ${got:-0}))
  done
  ((total == sent)) && break
done
kill -INT "${pool_pids[@]}"
wait "${pool_pids[@]}" || true
pool_pids=()
echo "-- the union of the three collectors' files against the manifest (ipfixDump, tshark):"
cat "$work"/pool*/*.ipfix >"$work/pool.ipfix"
/usr/bin/python3 tests/integration/check_ipfix.py --ipfix "$work/pool.ipfix" \
  --manifest "$work/manifest.csv" --no-sequence-check

echo
echo "== 10. Failover without loss. 2 collectors in ipfix-collectors; poolflowd meters a live port"
echo "   (net_pcap sending demo.pcap once; flows end 1 s idle), every record reliable. The collector it"
echo "   exports to is stopped (SIGSTOP: it acknowledges nothing) before the flows end, then killed:"
echo "   poolflowd reports it, switches to the other and replays what the first did not confirm stored."
echo "   poolflow-collector --merge makes the two collectors' files one set, each record once."
start_registrar registrar10
for n in 1 2; do
  mkdir -p "$work/fail$n"
  "$build_dir/src/poolflow-collector" --listen "sctp:127.0.0.1:476$n" --set "sctp.udp_encaps_port=993$n" \
    --pool ipfix-collectors --registrar 127.0.0.1:3863 --write "file:$work/fail$n" \
    >"$work/fail$n.txt" 2>"$work/fail$n.log" &
  fail_pids[$n]=$!
  pool_pids+=($!)
done
for n in 1 2; do
  for _ in $(seq 100); do grep -q "registered" "$work/fail$n.log" && break; sleep 0.1; done
done
"$build_dir/src/poolflowd" -c conf/poolflowd.toml \
  --set "input.devices=[\"net_pcap0,rx_pcap=$work/demo.pcap\"]" --pool ipfix-collectors \
  --registrar 127.0.0.1:3863 --set meter.idle_timeout_s=1 --set 'export.other_flows="reliable"' \
  --set sctp.heartbeat_interval_ms=3000 >"$work/fail-summary.txt" 2>"$work/fail-log.txt" &
poolflowd_pid=$!
for _ in $(seq 100); do grep -q "session 0 exports to PE" "$work/fail-log.txt" && break; sleep 0.1; done
first=$(grep -oP "session 0 exports to PE [0-9a-f]+ \(sctp:127\.0\.0\.1:476\K\d" "$work/fail-log.txt" | head -n 1)
other=$((3 - first))
kill -STOP "${fail_pids[$first]}"
echo "-- collector $first stopped"
for _ in $(seq 100); do grep -q "reported unreachable" "$work/fail-log.txt" && break; sleep 0.1; done
kill -KILL "${fail_pids[$first]}"
wait "${fail_pids[$first]}" 2>/dev/null || true
echo "-- collector $first killed"
flows=$(($(wc -l <"$work/manifest.csv") - 1))
for _ in $(seq 100); do  # until the other one holds every flow, at most 10 s
  kill -USR1 "${fail_pids[$other]}"
  sleep 0.1
  got=$(grep -oP "total: messages \d+ \(\d+ octets\), records \K\d+" "$work/fail$other.txt" | tail -n 1)
  ((${got:-0} >= flows)) && break
done
kill -INT "$poolflowd_pid"
wait "$poolflowd_pid" || true
grep -E "association lost|exports to PE|exporting them again" "$work/fail-log.txt" | cut -c 25-
grep -A1 "exported to" "$work/fail-summary.txt"
/usr/bin/python3 - "$work/fail-log.txt" "$work/fail-summary.txt" <<'PY'
import datetime, re, sys
def at(line):
    return datetime.datetime.fromisoformat(line.split()[0])
lines = [l for l in open(sys.argv[1]) if re.match(r"\d{4}-", l)]
lost = next(at(l) for l in lines if "association lost: reported unreachable" in l)
resumed = next(at(l) for l in lines if "exports to PE" in l and at(l) >= lost)
summary = open(sys.argv[2]).read()
reliable = re.search(r"\(\d+ records, (\d+) of them reliable\)", summary).group(1)
print(f"-- failover gap: {(resumed - lost).total_seconds() * 1000:.0f} ms from the association lost "
      f"to the next collector exporting; reliable records not sent: {reliable}")
PY
kill -INT "${pool_pids[@]}" 2>/dev/null || true
wait "${pool_pids[@]}" 2>/dev/null || true
pool_pids=()
grep "failed over from" "$work/fail$other.log" | cut -c 25- || true
echo "-- poolflow-collector --merge fail1 --merge fail2 --write file:merged"
mkdir -p "$work/merged"
"$build_dir/src/poolflow-collector" --merge "$work/fail1" --merge "$work/fail2" \
  --write "file:$work/merged"
echo "-- the merged files against the manifest (ipfixDump, tshark):"
cat "$work"/merged/*.ipfix >"$work/merged.ipfix"
/usr/bin/python3 tests/integration/check_ipfix.py --ipfix "$work/merged.ipfix" \
  --manifest "$work/manifest.csv" --no-sequence-check
