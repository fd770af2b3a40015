#!/usr/bin/env bash
# poolflow-collector --register-only puts collectors that do not speak ASAP in
# a pool: nfcapd over UDP, and (standing in for third parties) a TCP and an
# SCTP listener of a poolflow-collector outside any pool. Each is listed while
# its checks pass, leaves its pool when it dies, and comes back when it
# returns. poolflowd exports to the address the pool gives, and nfcapd counts
# every flow and no bad packet (the checks' header-only messages included).
source "$(dirname "$0")/common.sh"
COLLECTOR=$BUILD/src/poolflow-collector
REGISTRAR=$BUILD/src/poolflow-registrar
POOL=$BUILD/src/poolflow-pool
asap=38640 reg_udp=39930 nf_port=45990 tcp_port=45991 sctp_port=45992 sctp_udp=39931
registrar_at="127.0.0.1:$asap/$reg_udp"
pids=()
trap 'kill -KILL "${pids[@]}" 2>/dev/null || true; rm -rf "$WORK"' EXIT

"$REGISTRAR" --asap "127.0.0.1:$asap" --set sctp.udp_encaps_port=$reg_udp \
  --set registrar.allow_loopback=true >"$WORK/registrar.txt" 2>"$WORK/registrar.log" &
registrar=$!
pids+=($registrar)
wait_for "$WORK/registrar.log" "listening for ASAP" 10

mkdir "$WORK/nfcapd"
start_nfcapd() {
  nfcapd -b 127.0.0.1 -p $nf_port -w "$WORK/nfcapd" -t 3600 >"$WORK/nfcapd$1.log" 2>&1 &
  nfcapd=$!
  pids+=($nfcapd)
  wait_for "$WORK/nfcapd$1.log" "Startup" 10
}
start_third_party() {
  "$COLLECTOR" --listen "tcp:127.0.0.1:$tcp_port" --listen "sctp:127.0.0.1:$sctp_port" \
    --set sctp.udp_encaps_port=$sctp_udp >"$WORK/third$1.txt" 2>"$WORK/third$1.log" &
  third=$!
  pids+=($third)
  wait_for "$WORK/third$1.log" "listening on" 10
}
start_nfcapd 1
start_third_party 1

"$COLLECTOR" --register-only --pool third --registrar "$registrar_at" \
  --target "udp:127.0.0.1:$nf_port" --target "tcp:127.0.0.1:$tcp_port" \
  --target "sctp:127.0.0.1:$sctp_port/$sctp_udp" >"$WORK/proxy.txt" 2>"$WORK/proxy.log" &
proxy=$!
pids+=($proxy)

# listed|gone POOL REGEX SECONDS: until `resolve POOL` has (listed) or has no
# (gone) line matching REGEX.
await() {
  local want=$1 start=$(date +%s%N) state out
  for (( ; ; )); do
    state=gone
    out=$("$POOL" --registrar "$registrar_at" resolve "$2" 2>/dev/null || true)
    grep -Eq -- "$3" <<<"$out" && state=listed
    [[ $state == "$want" ]] && break
    (( $(date +%s%N) - start < $4 * 1000000000 )) || die "$2: '$3' not $want within $4 s"
    sleep 0.02
  done
  echo "$2: $want after $(( ($(date +%s%N) - start) / 1000000 )) ms"
}
listed() { await listed "$@"; }
gone() { await gone "$@"; }
udp_line="^[0-9a-f]{8} udp:127\.0\.0\.1:$nf_port policy=roundrobin load=0\.0$"
tcp_line="^[0-9a-f]{8} tcp:127\.0\.0\.1:$tcp_port policy=roundrobin load=0\.0$"
sctp_line="^[0-9a-f]{8} sctp:127\.0\.0\.1:$sctp_port/$sctp_udp policy=roundrobin load=0\.0$"
listed third-udp "$udp_line" 5
listed third-tcp "$tcp_line" 5
listed third "$sctp_line" 5

# A pool user exports to what the pool gives: nfcapd gets every flow.
"$GEN" --out "$WORK/in.pcap" --manifest "$WORK/manifest.csv" --seed 5 --packets 2000 --flows 200
where=$("$POOL" --registrar "$registrar_at" resolve third-udp | awk '{ print $2 }')
timeout -k 10 120 "$POOLFLOWD" --pcap "$WORK/in.pcap" --output "$where" \
  >"$WORK/summary.txt" 2>"$WORK/poolflowd.log" || { cat "$WORK/poolflowd.log" >&2; die "poolflowd failed"; }
expect_line "$WORK/summary.txt" "exported to $where: 200 records"
sleep 1.5  # a few more checks reach nfcapd

# Each target that dies leaves its pool; nfcapd comes back and is listed again.
kill -TERM "$nfcapd"
wait "$nfcapd" || true
cat "$WORK/nfcapd1.log"
expect_line "$WORK/nfcapd1.log" "Flows: 200, .*Sequence Errors: 0, Bad Packets: 0"
gone third-udp "$udp_line" 5
start_nfcapd 2
listed third-udp "$udp_line" 5
kill -KILL "$third"
gone third-tcp "$tcp_line" 5
gone third "$sctp_line" 5
start_third_party 2
listed third "$sctp_line" 5
listed third-tcp "$tcp_line" 5

# SIGTERM: the proxy deregisters every target before it exits.
kill -USR1 "$proxy"
sleep 0.3
kill -TERM "$proxy"
wait "$proxy" || die "poolflow-collector --register-only failed"
cat "$WORK/proxy.txt"
expect_line "$WORK/proxy.txt" "target udp:127\.0\.0\.1:$nf_port reachable: checks [0-9]+ failed [1-9]"
for pool in third third-tcp third-udp; do
  rc=0
  "$POOL" --registrar "$registrar_at" resolve $pool >/dev/null 2>&1 || rc=$?
  [[ $rc -eq 1 ]] || die "$pool still resolves after the proxy's SIGTERM (exit $rc)"
done

# SIGKILL: the registrar notices the proxy's lost association and drops its targets.
"$COLLECTOR" --register-only --pool third --registrar "$registrar_at" \
  --target "udp:127.0.0.1:$nf_port" >"$WORK/proxy2.txt" 2>"$WORK/proxy2.log" &
proxy=$!
pids+=($proxy)
listed third-udp "$udp_line" 5
kill -KILL "$proxy"
gone third-udp "$udp_line" 5

# Bad use is refused with a clear message.
rc=0
"$COLLECTOR" --register-only --pool third --registrar "$registrar_at" 2>"$WORK/bad.txt" || rc=$?
[[ $rc -eq 2 ]] || die "--register-only without a target: exit $rc"
expect_line "$WORK/bad.txt" "needs a collector to register"
rc=0
"$COLLECTOR" --register-only --pool third --registrar "$registrar_at" \
  --target "udp:0.0.0.0:$nf_port" 2>"$WORK/bad.txt" || rc=$?
[[ $rc -eq 2 ]] || die "--register-only of a wildcard address: exit $rc"
expect_line "$WORK/bad.txt" "needs a specific one"
echo "rserpool_register_only: OK"
