#!/usr/bin/env bash
# poolflowd as a pool user on loopback with real processes: one poolflow-registrar,
# poolflow-collectors registered in pool ipfix-collectors, and poolflowd given
# only the pool handle and the registrar. Every flow arrives in the union of the
# collectors' files, with exact packet and octet totals (ipfixDump and tshark
# against poolflow-gen's manifest), and the collectors count no loss.
#   rserpool_export.sh BUILD_DIR SCENARIO
# three:          3 collectors, pool.sessions = 3 (round robin): each collector gets a
#                 share; tshark decodes the exporter's ASAP (HANDLE_RESOLUTION and its
#                 RESPONSE) with nothing malformed.
# weights:        weighted round robin, weights 1:2:3, pool.sessions = 3: the records
#                 split 1:2:3 (flow-key hash over the shares).
# least-used:     leastused, collectors 1 and 2 loaded by a fixed-output poolflowd and
#                 reporting it: a pool user with pool.sessions = 1 picks collector 3.
# late-collector: poolflowd (live port) starts before any collector registers; one
#                 registers later and receives every record.
# late-registrar: poolflowd and a collector start with no registrar; it starts later
#                 and both find it by their static list.
# announce:       no --registrar: poolflowd learns the registrar from its SERVER_ANNOUNCE.
# unreachable:    2 collectors, live export to one; it is SIGKILLed: poolflowd reports it
#                 with ENDPOINT_UNREACHABLE (tshark, nothing malformed) and exports to the
#                 other (what was in flight: the failover and chaos scenarios).
# failover:       2 collectors, every record reliable; the one poolflowd picks is
#                 stopped (SIGSTOP: it acknowledges nothing) before the records come,
#                 then killed: poolflowd fails over to the other and replays what the
#                 first did not confirm stored. The two collectors' files merged
#                 (poolflow-collector --merge) hold every flow once, exactly
#                 (ipfixDump, tshark against the manifest).
# chaos:          4 collectors, every record reliable; three times in a row the one
#                 poolflowd exports to is stopped as soon as it is picked, so the
#                 records fail over from one to the next (replays of replays, cookies
#                 echoed along); the merged files of all four hold every flow once,
#                 exactly. Prints how long each switch took (association lost to the
#                 next element exporting, from poolflowd's log). tshark decodes the
#                 collectors' storage confirmations (ASAP COOKIE on the IPFIX
#                 associations) and any COOKIE_ECHO with nothing malformed.
# all-gone:       2 collectors, a capture played at its pace (6 s), every record
#                 reliable; both collectors are SIGKILLed at once mid-run and one is
#                 started again 2 s later: poolflowd keeps the records within its
#                 bounds meanwhile and sends them on; the merged files hold every
#                 flow once, exactly.
# no-confirm:     a collector that never confirms storage (write.confirm_interval_ms
#                 = 0) and a 1 MiB replay buffer: records leave it unconfirmed, which
#                 is logged and counted, the buffer stays within its bound, and every
#                 record still arrives.
source "$(dirname "$0")/common.sh"
scenario=${2:?scenario}
COLLECTOR=$BUILD/src/poolflow-collector
REGISTRAR=$BUILD/src/poolflow-registrar
POOL=$BUILD/src/poolflow-pool
case $scenario in
  three) base=0 ;;
  weights) base=1 ;;
  least-used) base=2 ;;
  late-collector) base=3 ;;
  late-registrar) base=4 ;;
  announce) base=5 ;;
  unreachable) base=6 ;;
  failover) base=7 ;;
  chaos) base=8 ;;
  all-gone) base=9 ;;
  no-confirm) base=9 ;;
  *) die "unknown scenario $scenario" ;;
esac
# Ports of this scenario: ASAP 3872B (B: base), the registrar's UDP encapsulation
# 3972B, collector N's IPFIX 475BN and UDP encapsulation 399BN, announces 3873B.
asap=3872$base reg_udp=3972$base announce_port=3873$base
registrar_at="127.0.0.1:$asap/$reg_udp"
pids=()
trap 'kill -KILL "${pids[@]}" 2>/dev/null || true; [[ -n ${POOLFLOW_KEEP_WORK:-} ]] && echo "kept $WORK" >&2 || rm -rf "$WORK"' EXIT

start_registrar() {
  "$REGISTRAR" --asap "127.0.0.1:$asap" --set sctp.udp_encaps_port=$reg_udp \
    --set registrar.allow_loopback=true --set registrar.keep_alive_interval_ms=1000 \
    --set registrar.keep_alive_timeout_ms=1000 "$@" \
    >"$WORK/registrar.txt" 2>"$WORK/registrar.log" &
  registrar=$!
  pids+=($registrar)
  wait_for "$WORK/registrar.log" "listening for ASAP" 10
}
declare -A collector
start_collector() {  # start_collector N [--set ...]: no wait for its registration
  local n=$1
  shift
  mkdir -p "$WORK/files$n"
  "$COLLECTOR" --listen "sctp:127.0.0.1:475$base$n" --set "sctp.udp_encaps_port=399$base$n" \
    --pool ipfix-collectors --registrar "$registrar_at" --write "file:$WORK/files$n" "$@" \
    >"$WORK/collector$n.txt" 2>"$WORK/collector$n.log" &
  collector[$n]=$!
  pids+=($!)
}
registered() { wait_for "$WORK/collector$1.log" "PE [0-9a-f]{8} registered" "${2:-10}"; }

# records_of N: what collector N's last statistics line says it stored.
records_of() {
  grep -oP "total: messages \d+ \(\d+ octets\), records \K\d+" "$WORK/collector$1.txt" 2>/dev/null | tail -n 1 || echo 0
}
# Waits until the collectors together hold what poolflowd's summary says it sent,
# stops them and checks the union of their files against the manifest.
check_union() {
  local sent total n
  sent=$(($(grep -oP "exported to \S+: \K\d+(?= records)" "$WORK/summary.txt" | paste -sd+)))
  for _ in $(seq 100); do
    total=0
    for n in "${!collector[@]}"; do
      kill -USR1 "${collector[$n]}" 2>/dev/null || true
    done
    sleep 0.1
    for n in "${!collector[@]}"; do total=$((total + $(records_of "$n"))); done
    ((total == sent)) && break
  done
  ((total == sent)) || die "the collectors hold $total records, poolflowd sent $sent"
  for n in "${!collector[@]}"; do
    kill -INT "${collector[$n]}"
    wait "${collector[$n]}" || true
    local line
    line=$(grep "total:" "$WORK/collector$n.txt" | tail -n 1)
    echo "collector $n: $line"
    [[ $line == *"lost 0 in 0 gaps"* && $line == *"errors: none" ]] || die "collector $n: $line"
  done
  cat "$WORK"/files*/*.ipfix >"$WORK/all.ipfix"
  # Several sessions' messages are interleaved: each collector checked its own sequence numbers.
  $CHECK_IPFIX --ipfix "$WORK/all.ipfix" --manifest "$WORK/manifest.csv" --no-sequence-check
}

"$GEN" --out "$WORK/in.pcap" --manifest "$WORK/manifest.csv" --seed 9 \
  --packets 30000 --flows 3000 --ipv6 0.3 --tcp-syn-fin >/dev/null
# A playback to the pool: poolflowd exits at the end of the capture.
export_pcap() {
  timeout -k 10 60 "$POOLFLOWD" --pcap "$WORK/in.pcap" --pool ipfix-collectors "$@" \
    >"$WORK/summary.txt" 2>"$WORK/log.txt" || {
    cat "$WORK/log.txt" >&2
    die "poolflowd failed"
  }
  cat "$WORK/summary.txt"
  grep "pool ipfix-collectors" "$WORK/log.txt"
  expect_line "$WORK/summary.txt" "0 messages not sent \(0 records"
}
# A live port that sends the capture once and then goes quiet: flows end after
# 1 s idle; poolflowd runs until SIGINT.
start_live() {
  "$POOLFLOWD" --set "input.devices=[\"net_pcap0,rx_pcap=$WORK/in.pcap\"]" \
    --pool ipfix-collectors --set meter.idle_timeout_s=1 --set export.flush_interval_ms=100 \
    --set log.stats_interval_s=1 "$@" >"$WORK/summary.txt" 2>"$WORK/log.txt" &
  poolflowd=$!
  pids+=($poolflowd)
}
stop_live() {
  kill -INT "$poolflowd"
  timeout 30 tail --pid="$poolflowd" -f /dev/null || die "poolflowd did not stop"
  wait "$poolflowd" || die "poolflowd exit $?"
  cat "$WORK/summary.txt"
  grep "pool ipfix-collectors" "$WORK/log.txt"
  expect_line "$WORK/summary.txt" "0 messages not sent \(0 records"
}

case $scenario in
  three)
    start_registrar
    for n in 1 2 3; do start_collector $n; done
    for n in 1 2 3; do registered $n; done
    dumpcap -q -i lo -f "udp port $reg_udp" -w "$WORK/asap.pcapng" 2>"$WORK/dumpcap.log" &
    capture=$!
    pids+=($capture)
    sleep 1
    export_pcap --registrar "$registrar_at" --set pool.sessions=3
    for n in 1 2 3; do
      expect_line "$WORK/summary.txt" "exported to sctp:127\.0\.0\.1:475$base$n: [1-9][0-9]* records"
    done
    check_union
    sleep 1  # dumpcap hands packets over in intervals
    kill -INT "$capture"
    wait "$capture" || true
    tshark -r "$WORK/asap.pcapng" -d "udp.port==$reg_udp,sctp" -Y asap -T fields \
      -e asap.message_type | tr ',' '\n' | sort | uniq -c >"$WORK/types.txt"
    cat "$WORK/types.txt"
    for t in 5 6; do
      grep -Eq "^ +[0-9]+ $t$" "$WORK/types.txt" || die "no ASAP message type $t on the wire"
    done
    bad=$(tshark -r "$WORK/asap.pcapng" -d "udp.port==$reg_udp,sctp" \
      -Y "_ws.malformed || _ws.expert.severity >= error" | wc -l)
    [[ $bad -eq 0 ]] || die "$bad malformed packets or expert errors"
    ;;
  weights)
    start_registrar
    for n in 1 2 3; do
      start_collector $n --set 'pool.policy="weighted-roundrobin"' --set pool.weight=$n
    done
    for n in 1 2 3; do registered $n; done
    export_pcap --registrar "$registrar_at" --set pool.sessions=3
    expect_line "$WORK/log.txt" "records shared 43:85:128|records shared 43:128:85|records shared 85:43:128|records shared 85:128:43|records shared 128:43:85|records shared 128:85:43"
    check_union
    # Records per collector against weight x 1/6 of all: within 20 % (3000 flows hashed).
    all=$(($(records_of 1) + $(records_of 2) + $(records_of 3)))
    for n in 1 2 3; do
      got=$(records_of $n) want=$((all * n / 6))
      echo "collector $n (weight $n): $got records, $want expected"
      ((got * 10 >= want * 8 && got * 10 <= want * 12)) || die "collector $n: $got records, not about $want"
    done
    ;;
  least-used)
    start_registrar
    for n in 1 2 3; do
      start_collector $n --set 'pool.policy="leastused"' --set pool.capacity_records_per_s=100 \
        --set pool.reregistration_interval_ms=500
    done
    for n in 1 2 3; do registered $n; done
    # Load collector 1 with a fixed-output exporter until it reports the load.
    "$GEN" --out "$WORK/loop.pcap" --packets 2000 --flows 100 >/dev/null
    "$POOLFLOWD" --set "input.devices=[\"net_pcap0,rx_pcap=$WORK/loop.pcap,infinite_rx=1\"]" \
      --output "sctp:127.0.0.1:475${base}1" --set sctp.remote_udp_port=399${base}1 \
      --set meter.active_timeout_s=1 --set export.flush_interval_ms=100 \
      --set eal.file_prefix=loader >"$WORK/loader.txt" 2>"$WORK/loader.log" &
    loader=$!
    pids+=($loader)
    start=$(date +%s)
    until "$POOL" --registrar "$registrar_at" resolve ipfix-collectors >"$WORK/pool.txt" &&
      grep -Eq ":475${base}1/399${base}1 policy=leastused load=([1-9]|0\.[1-9])" "$WORK/pool.txt"; do
      (($(date +%s) - start < 20)) || die "collector 1 reports no load: $(cat "$WORK/pool.txt")"
      sleep 0.2
    done
    cat "$WORK/pool.txt"
    # Two sessions of a pool of three: least used leaves out the loaded one.
    export_pcap --registrar "$registrar_at" --set pool.sessions=2
    expect_line "$WORK/log.txt" "selected PE [0-9a-f]{8} \(sctp:127\.0\.0\.1:475${base}2\) by leastused"
    expect_line "$WORK/log.txt" "selected PE [0-9a-f]{8} \(sctp:127\.0\.0\.1:475${base}3\) by leastused"
    grep -q "selected PE [0-9a-f]* (sctp:127.0.0.1:475${base}1)" "$WORK/log.txt" &&
      die "the loaded collector was selected"
    kill -INT "$loader"
    wait "$loader" || true
    # Collector 1 holds the loader's records too: compare only 2 and 3.
    kill -INT "${collector[1]}"
    wait "${collector[1]}" || true
    rm -rf "$WORK/files1"
    unset 'collector[1]'
    check_union
    ;;
  late-collector)
    start_registrar
    start_live --registrar "$registrar_at" --set pool.retry_interval_ms=200
    wait_for "$WORK/log.txt" "pool ipfix-collectors: no pool elements" 20
    sleep 2  # every flow has ended meanwhile, and waits for a collector
    start_collector 1
    registered 1
    wait_for "$WORK/log.txt" "session 0 exports to PE" 10
    # The aggregation thread takes the transport at its next flush.
    wait_for "$WORK/log.txt" "sending the [1-9][0-9]* records that waited for it" 5
    sleep 1
    stop_live
    check_union
    ;;
  late-registrar)
    start_collector 1 --set pool.reconnect_interval_ms=200
    start_live --registrar "$registrar_at" --set pool.reconnect_interval_ms=200 \
      --set pool.request_timeout_ms=500
    sleep 2
    grep -q "session 0 exports" "$WORK/log.txt" && die "exporting without a registrar"
    start_registrar
    registered 1 20
    wait_for "$WORK/log.txt" "session 0 exports to PE" 20
    expect_line "$WORK/log.txt" "home registrar is #0"
    sleep 1
    stop_live
    check_union
    ;;
  announce)
    start_registrar --announce on --set announce.interface=127.0.0.1 \
      --set announce.port=$announce_port --set announce.interval_ms=200
    start_collector 1
    registered 1
    export_pcap --set pool.announces=true --set pool.announce_port=$announce_port
    expect_line "$WORK/log.txt" "registrar 127\.0\.0\.1:$asap/$reg_udp learnt from its announce"
    check_union
    ;;
  unreachable)
    start_registrar
    for n in 1 2; do start_collector $n; done
    for n in 1 2; do registered $n; done
    dumpcap -q -i lo -f "udp port $reg_udp" -w "$WORK/asap.pcapng" 2>"$WORK/dumpcap.log" &
    capture=$!
    pids+=($capture)
    sleep 1
    "$GEN" --out "$WORK/loop.pcap" --packets 2000 --flows 100 >/dev/null
    start_live --registrar "$registrar_at" --set meter.active_timeout_s=1 \
      --set "input.devices=[\"net_pcap0,rx_pcap=$WORK/loop.pcap,infinite_rx=1\"]"
    wait_for "$WORK/log.txt" "session 0 exports to PE" 10
    first=$(grep -oP "session 0 exports to PE [0-9a-f]+ \(sctp:127\.0\.0\.1:475$base\K\d" "$WORK/log.txt")
    other=$((3 - first))
    sleep 2
    kill -KILL "${collector[$first]}"
    killed=$(date +%s%3N)
    wait_for "$WORK/log.txt" "sctp:127\.0\.0\.1:475$base$first\) association lost: reported unreachable" 10
    wait_for "$WORK/log.txt" "session 0 exports to PE [0-9a-f]+ \(sctp:127\.0\.0\.1:475$base$other\)" 10
    echo "collector $first killed; collector $other exports after $(($(date +%s%3N) - killed)) ms at most"
    before=$(records_of $other)
    sleep 2
    kill -USR1 "${collector[$other]}"
    sleep 0.2
    (($(records_of $other) > ${before:-0})) || die "collector $other receives nothing"
    stop_live
    sleep 1  # dumpcap hands packets over in intervals
    kill -INT "$capture"
    wait "$capture" || true
    tshark -r "$WORK/asap.pcapng" -d "udp.port==$reg_udp,sctp" -Y "asap.message_type == 9" \
      -T fields -e asap.pe_identifier >"$WORK/unreachable.txt"
    cat "$WORK/unreachable.txt"
    [[ -s $WORK/unreachable.txt ]] || die "no ENDPOINT_UNREACHABLE on the wire"
    bad=$(tshark -r "$WORK/asap.pcapng" -d "udp.port==$reg_udp,sctp" \
      -Y "_ws.malformed || _ws.expert.severity >= error" | wc -l)
    [[ $bad -eq 0 ]] || die "$bad malformed packets or expert errors"
    ;;
  failover)
    start_registrar
    for n in 1 2; do start_collector $n; done
    for n in 1 2; do registered $n; done
    # Heartbeats far apart: the stopped collector is found dead by the records
    # it does not acknowledge (a few retransmissions), not before they are sent.
    start_live --registrar "$registrar_at" --set 'export.other_flows="reliable"' \
      --set sctp.heartbeat_interval_ms=3000
    wait_for "$WORK/log.txt" "session 0 exports to PE" 10
    first=$(grep -oP "session 0 exports to PE [0-9a-f]+ \(sctp:127\.0\.0\.1:475$base\K\d" "$WORK/log.txt")
    other=$((3 - first))
    kill -STOP "${collector[$first]}"
    wait_for "$WORK/log.txt" "sctp:127\.0\.0\.1:475$base$first\) association lost: reported unreachable" 15
    wait_for "$WORK/log.txt" "session 0 exports to PE [0-9a-f]+ \(sctp:127\.0\.0\.1:475$base$other\)" 10
    kill -KILL "${collector[$first]}"
    wait "${collector[$first]}" 2>/dev/null || true
    unset "collector[$first]"
    expect_line "$WORK/log.txt" "records of the earlier transport session were not confirmed stored: exporting them again"
    flows=$(($(wc -l <"$WORK/manifest.csv") - 1))
    for _ in $(seq 100); do  # the flows end 1 s after the capture was sent
      sleep 0.1
      kill -USR1 "${collector[$other]}"
      (($(records_of "$other") >= flows)) && break
    done
    stop_live
    replayed=$(grep -oP "replay buffer: .* \K\d+(?= replayed)" "$WORK/summary.txt")
    ((replayed > 0)) || die "nothing replayed"
    kill -INT "${collector[$other]}"
    wait "${collector[$other]}" || true
    line=$(grep "total:" "$WORK/collector$other.txt" | tail -n 1)
    [[ $line == *"lost 0 in 0 gaps"* && $line == *"errors: none" ]] || die "collector $other: $line"
    mkdir "$WORK/merged"
    "$COLLECTOR" --merge "$WORK/files1" --merge "$WORK/files2" --write "file:$WORK/merged" \
      >"$WORK/merge.txt" || { cat "$WORK/merge.txt"; die "merge failed"; }
    cat "$WORK/merge.txt"
    cat "$WORK"/merged/*.ipfix >"$WORK/all.ipfix"
    $CHECK_IPFIX --ipfix "$WORK/all.ipfix" --manifest "$WORK/manifest.csv" --no-sequence-check
    ;;
  chaos)
    start_registrar
    for n in 1 2 3 4; do start_collector $n; done
    for n in 1 2 3 4; do registered $n; done
    dumpcap -q -i lo -f "udp portrange 399${base}1-399${base}4" -w "$WORK/ipfix.pcapng" \
      2>"$WORK/dumpcap.log" &
    capture=$!
    pids+=($capture)
    sleep 1
    start_live --registrar "$registrar_at" --set 'export.other_flows="reliable"' \
      --set sctp.heartbeat_interval_ms=3000
    declare -A stopped
    for round in 1 2 3; do
      for _ in $(seq 150); do
        (($(grep -c "session 0 exports to PE" "$WORK/log.txt") >= round)) && break
        sleep 0.1
      done
      current=$(grep -oP "session 0 exports to PE [0-9a-f]+ \(sctp:127\.0\.0\.1:475$base\K\d" \
        "$WORK/log.txt" | sed -n "${round}p")
      [[ -n $current ]] || die "round $round: no pool element picked"
      [[ -z ${stopped[$current]:-} ]] || die "round $round: collector $current picked again"
      kill -STOP "${collector[$current]}"
      stopped[$current]=1
      echo "round $round: collector $current stopped"
    done
    # The last one picked takes what the stopped ones did not confirm stored
    # (they may have stored and confirmed some before they were stopped): wait
    # until its count stops growing.
    for _ in $(seq 150); do
      (($(grep -c "session 0 exports to PE" "$WORK/log.txt") >= 4)) && break
      sleep 0.1
    done
    last=$(grep -oP "session 0 exports to PE [0-9a-f]+ \(sctp:127\.0\.0\.1:475$base\K\d" \
      "$WORK/log.txt" | tail -n 1)
    [[ -z ${stopped[$last]:-} ]] || die "the last element picked ($last) is a stopped one"
    before=-1 steady=0
    for _ in $(seq 150); do
      kill -USR1 "${collector[$last]}"
      sleep 0.2
      now=$(records_of "$last")
      if ((now > 0 && now == before)); then ((++steady >= 5)) && break; else steady=0; fi
      before=$now
    done
    if ((steady < 5)); then
      grep -E "exports to PE|association lost|switching|exporting them again|warn|error" \
        "$WORK/log.txt" "$WORK/collector$last.log" >&2 || true
      die "collector $last did not settle ($now records)"
    fi
    for n in "${!stopped[@]}"; do
      kill -KILL "${collector[$n]}"
      wait "${collector[$n]}" 2>/dev/null || true
      unset "collector[$n]"
    done
    stop_live
    grep -E "association lost: reported unreachable|exports to PE|exporting them again" "$WORK/log.txt"
    # Each switch: from the association lost to the next element exporting.
    /usr/bin/python3 - "$WORK/log.txt" <<'PY'
import datetime, re, sys
lost = None
for line in open(sys.argv[1]):
    t = re.match(r"(\d{4}-\d\d-\d\dT[\d:.]+) ", line)
    if not t:
        continue
    when = datetime.datetime.fromisoformat(t.group(1))
    if "association lost: reported unreachable" in line:
        lost = when
    elif "exports to PE" in line and lost is not None:
        print(f"switch: {(when - lost).total_seconds() * 1000:.0f} ms from association lost to the next element exporting")
        lost = None
PY
    replayed=$(grep -oP "replay buffer: .* \K\d+(?= replayed)" "$WORK/summary.txt")
    ((replayed > 0)) || die "nothing replayed"
    for n in "${!collector[@]}"; do
      kill -INT "${collector[$n]}"
      wait "${collector[$n]}" || true
    done
    sleep 1  # dumpcap hands packets over in intervals
    kill -INT "$capture"
    wait "$capture" || true
    decode=(-d "udp.port==399${base}1,sctp" -d "udp.port==399${base}2,sctp"
      -d "udp.port==399${base}3,sctp" -d "udp.port==399${base}4,sctp")
    cookies=$(tshark -r "$WORK/ipfix.pcapng" "${decode[@]}" -Y "asap.message_type == 11" | wc -l)
    echoes=$(tshark -r "$WORK/ipfix.pcapng" "${decode[@]}" -Y "asap.message_type == 12" | wc -l)
    bad=$(tshark -r "$WORK/ipfix.pcapng" "${decode[@]}" -Y "asap && (_ws.malformed || _ws.expert.severity >= error)" | wc -l)
    echo "on the wire: $cookies packets with an ASAP COOKIE, $echoes with a COOKIE_ECHO, $bad malformed"
    ((cookies > 0)) || die "no storage confirmation on the wire"
    ((bad == 0)) || die "$bad malformed ASAP packets"
    mkdir "$WORK/merged"
    "$COLLECTOR" --merge "$WORK/files1" --merge "$WORK/files2" --merge "$WORK/files3" \
      --merge "$WORK/files4" --write "file:$WORK/merged" >"$WORK/merge.txt" ||
      { cat "$WORK/merge.txt"; die "merge failed"; }
    cat "$WORK/merge.txt"
    cat "$WORK"/merged/*.ipfix >"$WORK/all.ipfix"
    $CHECK_IPFIX --ipfix "$WORK/all.ipfix" --manifest "$WORK/manifest.csv" --no-sequence-check
    ;;
  all-gone)
    start_registrar
    for n in 1 2; do start_collector $n; done
    for n in 1 2; do registered $n; done
    "$GEN" --out "$WORK/paced.pcap" --manifest "$WORK/manifest.csv" --seed 13 --packets 60000 \
      --flows 4000 --rate 10000 --lifetime 0.05 >/dev/null
    timeout -k 10 90 "$POOLFLOWD" --pcap "$WORK/paced.pcap" --set input.pcap_speed_percent=100 \
      --pool ipfix-collectors --registrar "$registrar_at" --set meter.idle_timeout_s=1 \
      --set 'export.other_flows="reliable"' --set export.flush_interval_ms=100 \
      --set export.close_timeout_ms=10000 >"$WORK/summary.txt" 2>"$WORK/log.txt" &
    poolflowd=$!
    pids+=($poolflowd)
    sleep 2
    kill -KILL "${collector[1]}" "${collector[2]}"
    wait "${collector[1]}" "${collector[2]}" 2>/dev/null || true
    echo "both collectors killed"
    sleep 2
    mv "$WORK/files1" "$WORK/files1.first"
    start_collector 1
    registered 1
    echo "collector 1 back"
    timeout 60 tail --pid="$poolflowd" -f /dev/null || die "poolflowd did not finish"
    wait "$poolflowd" || die "poolflowd exit $?"
    cat "$WORK/summary.txt"
    grep -E "association lost|exports to PE|exporting them again|no collector" "$WORK/log.txt" | cut -c 25- || true
    expect_line "$WORK/summary.txt" "messages not sent \(0 records, 0 of them reliable\)"
    sleep 0.5
    kill -INT "${collector[1]}"
    wait "${collector[1]}" || true
    mkdir "$WORK/merged"
    "$COLLECTOR" --merge "$WORK/files1.first" --merge "$WORK/files2" --merge "$WORK/files1" \
      --write "file:$WORK/merged" >"$WORK/merge.txt" || { cat "$WORK/merge.txt"; die "merge failed"; }
    cat "$WORK/merge.txt"
    cat "$WORK"/merged/*.ipfix >"$WORK/all.ipfix"
    $CHECK_IPFIX --ipfix "$WORK/all.ipfix" --manifest "$WORK/manifest.csv" --no-sequence-check
    ;;
  no-confirm)
    start_registrar
    start_collector 1 --set write.confirm_interval_ms=0
    registered 1
    "$GEN" --out "$WORK/big.pcap" --manifest "$WORK/manifest.csv" --seed 17 --packets 200000 \
      --flows 20000 >/dev/null
    timeout -k 10 60 "$POOLFLOWD" --pcap "$WORK/big.pcap" --pool ipfix-collectors \
      --registrar "$registrar_at" --set 'export.other_flows="reliable"' \
      --set export.replay_buffer_mib=1 >"$WORK/summary.txt" 2>"$WORK/log.txt" ||
      { cat "$WORK/log.txt" >&2; die "poolflowd failed"; }
    cat "$WORK/summary.txt"
    line=$(grep "replay buffer:" "$WORK/summary.txt")
    [[ $line =~ ([0-9]+)\ records\ held.*\(([0-9]+)\ for\ lack\ of\ room ]] || die "no replay line: $line"
    held=${BASH_REMATCH[1]} full=${BASH_REMATCH[2]}
    ((full > 0)) || die "a 1 MiB buffer never full with $(($(wc -l <"$WORK/manifest.csv") - 1)) flows unconfirmed"
    # 1 MiB of entries (a record and its bookkeeping, 120 octets) per class, at most.
    ((held <= 2 * (1048576 / 120))) || die "$held records held: more than two 1 MiB buffers"
    expect_line "$WORK/log.txt" "records left the replay buffer unconfirmed so far"
    check_union
    ;;
esac
echo "rserpool_export $scenario: OK"
