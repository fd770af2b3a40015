#!/usr/bin/env bash
# RSerPool on loopback with real processes: one poolflow-registrar, collectors
# that register as pool elements, and poolflow-pool resolving the pool. tshark's
# asap dissector checks every message on the wire.
source "$(dirname "$0")/common.sh"
COLLECTOR=$BUILD/src/poolflow-collector
REGISTRAR=$BUILD/src/poolflow-registrar
POOL=$BUILD/src/poolflow-pool
asap=38630 reg_udp=39900
registrar_at="127.0.0.1:$asap/$reg_udp"
pids=()
trap 'kill -KILL "${pids[@]}" 2>/dev/null || true; rm -rf "$WORK"' EXIT

dumpcap -q -i lo -f "udp portrange 39900-39920 or udp port 38631" -w "$WORK/asap.pcapng" 2>"$WORK/dumpcap.log" &
pids+=($!)
sleep 1

start_registrar() {
  "$REGISTRAR" --asap "127.0.0.1:$asap" --set sctp.udp_encaps_port=$reg_udp \
    --set registrar.allow_loopback=true --set registrar.keep_alive_interval_ms=1000 \
    --set registrar.keep_alive_timeout_ms=1000 \
    --announce on --set announce.interface=127.0.0.1 --set announce.port=38631 \
    >"$WORK/registrar$1.txt" 2>"$WORK/registrar$1.log" &
  registrar=$!
  pids+=($registrar)
  wait_for "$WORK/registrar$1.log" "listening for ASAP" 10
}
declare -A collector
start_collector() {  # start_collector N: IPFIX on 4744N, UDP encapsulation 3991N
  "$COLLECTOR" --listen "sctp:127.0.0.1:4744$1" --set sctp.udp_encaps_port=3991$1 \
    --pool ipfix-collectors --registrar "$registrar_at" \
    >"$WORK/collector$1.txt" 2>"$WORK/collector$1.log" &
  collector[$1]=$!
  pids+=($!)
  wait_for "$WORK/collector$1.log" "PE [0-9a-f]{8} registered" 10
}
resolve() { "$POOL" --registrar "$registrar_at" resolve ipfix-collectors; }

start_registrar 1
for n in 1 2 3; do start_collector $n; done
resolve >"$WORK/three.txt"
cat "$WORK/three.txt"
[[ $(wc -l <"$WORK/three.txt") -eq 3 ]] || die "expected 3 pool elements"
for n in 1 2 3; do
  expect_line "$WORK/three.txt" "^[0-9a-f]{8} sctp:127\.0\.0\.1:4744$n/3991$n policy=roundrobin load=[0-9.]+$"
done

# An unknown pool: exit 1 with the registrar's error.
rc=0
"$POOL" --registrar "$registrar_at" resolve no-such-pool 2>"$WORK/unknown.txt" || rc=$?
[[ $rc -eq 1 ]] || die "unknown pool: exit $rc"
expect_line "$WORK/unknown.txt" "no-such-pool: unknown pool handle \(cause 9\)"

# ASAP on a collector's IPFIX association is counted, not taken for IPFIX.
rc=0
"$POOL" --registrar "127.0.0.1:47443/39913" --timeout-ms 200 resolve x 2>/dev/null || rc=$?
[[ $rc -eq 3 ]] || die "a collector answered a resolution: exit $rc"

# SIGKILL: the registrar notices the lost association (or the missed keep-alive).
kill -KILL "${collector[1]}"
start=$(date +%s%N)
while grep -q ":47441/" <(resolve); do
  (( $(date +%s%N) - start < 10000000000 )) || die "killed collector still listed after 10 s"
  sleep 0.02
done
echo "SIGKILLed collector removed after $(( ($(date +%s%N) - start) / 1000000 )) ms"

# SIGTERM: deregistered before it exits.
kill -TERM "${collector[2]}"
wait "${collector[2]}" || true
resolve >"$WORK/after_term.txt"
grep -q ":47442/" "$WORK/after_term.txt" && die "SIGTERMed collector still listed"

# A new one is listed at the next resolution.
start_collector 4
resolve >"$WORK/new.txt"
[[ $(wc -l <"$WORK/new.txt") -eq 2 ]] || { cat "$WORK/new.txt"; die "expected collectors 3 and 4"; }

# A registrar restart: the collectors are back within their re-registration
# interval (10 s; they reconnect after 1 s).
kill -INT "$registrar"
wait "$registrar" || true
start_registrar 2
start=$(date +%s%N)
until [[ $(resolve 2>/dev/null | wc -l) -eq 2 ]]; do
  (( $(date +%s%N) - start < 10000000000 )) || die "collectors not back within 10 s of a registrar restart"
  sleep 0.05
done
echo "collectors back $(( ($(date +%s%N) - start) / 1000000 )) ms after the registrar restarted"
sleep 2.5  # keep-alives go and come back

kill -USR1 "${collector[3]}"
sleep 0.3
expect_line "$WORK/collector3.txt" "ASAP messages [1-9]"
kill -TERM "${collector[3]}" "${collector[4]}"
wait "${collector[3]}" "${collector[4]}" || true
kill -INT "$registrar"
wait "$registrar" || true
cat "$WORK/registrar1.txt" "$WORK/registrar2.txt"
expect_line "$WORK/registrar1.txt" "removed: keep-alive [0-9]+ association 1 "
expect_line "$WORK/registrar1.txt" "deregistrations 1 "
expect_line "$WORK/registrar2.txt" "keep-alives sent [1-9][0-9]* acked [1-9]"
expect_line "$WORK/registrar2.txt" "deregistrations 2 "

# The wire: every ASAP message decodes with tshark's dissector, nothing malformed.
sleep 0.5
kill -INT "${pids[0]}"
wait "${pids[0]}" || true
decode=()
for p in $(seq 39900 39920); do decode+=(-d "udp.port==$p,sctp"); done
tshark -r "$WORK/asap.pcapng" "${decode[@]}" -Y asap -T fields -e asap.message_type \
  | tr ',' '\n' | sort | uniq -c >"$WORK/types.txt"
cat "$WORK/types.txt"
for t in 1 2 3 4 5 6 7 8; do
  grep -Eq "^ +[0-9]+ $t$" "$WORK/types.txt" || die "no ASAP message type $t on the wire"
done
# SERVER_ANNOUNCE (10) to 224.0.1.185, about one a second from each registrar,
# with the registrar's SCTP transport and its UDP encapsulation port.
tshark -r "$WORK/asap.pcapng" -d "udp.port==38631,asap" -Y "ip.dst == 224.0.1.185 && asap" \
  -T fields -e asap.message_type -e asap.sctp_transport_port -e asap.ipv4_address >"$WORK/announces.txt"
sort "$WORK/announces.txt" | uniq -c
n=$(grep -Ec "^10	$asap	127\.0\.0\.1$" "$WORK/announces.txt" || true)
[[ $n -ge 5 ]] || die "$n SERVER_ANNOUNCEs decoded"
bad=$(tshark -r "$WORK/asap.pcapng" "${decode[@]}" -Y "_ws.malformed || _ws.expert.severity >= error" | wc -l)
[[ $bad -eq 0 ]] || die "$bad malformed packets or expert errors"
echo "rserpool_pool: OK"
