#!/usr/bin/env bash
# Bad input at a running poolflow-registrar (default limits): garbage on an
# ASAP association, a message over the size limit, absurd lifetimes, foreign policies in one pool, a thousand
# pools from one peer, resolutions of unknown pools, a peer that opens many
# associations. Each is answered with the right error or refused, and counted;
# the handlespace stays within the limits, memory stays small, the registrar
# keeps serving a real collector. tshark's asap dissector reads every answer.
source "$(dirname "$0")/common.sh"
REGISTRAR=$BUILD/src/poolflow-registrar
COLLECTOR=$BUILD/src/poolflow-collector
POOL=$BUILD/src/poolflow-pool
PEER=$BUILD/tests/asap_peer
asap=38680 reg_udp=39980
at="127.0.0.1:$asap/$reg_udp"
pids=()
trap 'kill -KILL "${pids[@]}" 2>/dev/null || true; rm -rf "$WORK"' EXIT

dumpcap -q -i lo -f "udp port $reg_udp" -w "$WORK/asap.pcapng" 2>"$WORK/dumpcap.log" &
pids+=($!)
sleep 1
"$REGISTRAR" --asap "127.0.0.1:$asap" --set sctp.udp_encaps_port=$reg_udp \
  --set registrar.allow_loopback=true >"$WORK/registrar.txt" 2>"$WORK/registrar.log" &
registrar=$!
pids+=($registrar)
wait_for "$WORK/registrar.log" "listening for ASAP" 10
rss() { awk '/^VmRSS/ { print $2 }' /proc/$registrar/status; }
rss_start=$(rss)

# run SCENARIO [N]: the peer's summary, which must also have come out whole.
run() { "$PEER" --registrar "$at" "$@" | tee -a "$WORK/peer.txt"; }
# A peer's elements leave when its association is lost: wait for that.
gone() {
  local start=$(date +%s)
  while "$POOL" --registrar "$at" resolve "$1" >/dev/null 2>&1; do
    (( $(date +%s) - start < 10 )) || die "pool $1 still there 10 s after its peer left"
    sleep 0.05
  done
}

run garbage 100
# Unknown message types are answered (cause 2); what does not parse is dropped;
# at 16 bad messages the association is aborted.
expect_line "$WORK/peer.txt" "^garbage: sent 16 operation errors back [1-9][0-9]* association aborted yes$"
run oversize 5000
expect_line "$WORK/peer.txt" "^oversize 5000 octets: rejected: cause 6 \(0 octets\)$"
run lifetimes
for life in -1 0 999 2147483647; do
  expect_line "$WORK/peer.txt" "^lifetime $life ms: rejected: cause 3 \([1-9][0-9]* octets\)$"
done
run policies
expect_line "$WORK/peer.txt" "^policy roundrobin: accepted$"
expect_line "$WORK/peer.txt" "^policy leastused: rejected: cause 5 \(12 octets\)$"
expect_line "$WORK/peer.txt" "^policy random: rejected: cause 5 \(8 octets\)$"
gone policies
run pools 1100
expect_line "$WORK/peer.txt" "^pools: 1100 registrations: accepted=1000 cause 6=100$"
gone flood-0
run unknown 200
expect_line "$WORK/peer.txt" "^unknown: 200 resolutions: cause 9=200$"
run associations 80
expect_line "$WORK/peer.txt" "^associations: opened 80 still up 64 refused 16$"

# Still serving: a collector registers and is resolved.
"$COLLECTOR" --listen "sctp:127.0.0.1:47480" --set sctp.udp_encaps_port=39981 \
  --pool after-the-storm --registrar "$at" >/dev/null 2>"$WORK/collector.log" &
pids+=($!)
wait_for "$WORK/collector.log" "PE [0-9a-f]{8} registered" 10
grep -q "sctp:127.0.0.1:47480/39981" <<<"$("$POOL" --registrar "$at" resolve after-the-storm)" \
  || die "the registrar does not resolve a collector after the bad input"
rss_end=$(rss)
echo "registrar RSS: $rss_start KiB at start, $rss_end KiB after the bad input"
(( rss_end - rss_start < 32768 )) || die "the registrar grew by $(( rss_end - rss_start )) KiB"

kill -USR1 $registrar
sleep 0.3
kill -INT $registrar
wait $registrar || die "the registrar did not exit cleanly"
grep "^registrar:" "$WORK/registrar.txt" | tail -n 7
expect_line "$WORK/registrar.txt" "^registrar: malformed (1[7-9]|[2-9][0-9]|100) .* associations refused 16 aborted 1 "
expect_line "$WORK/registrar.txt" "rejected by cause: invalid values=4 inconsistent pooling policy=2 lack of resources=100$"
expect_line "$WORK/registrar.txt" "resolutions [0-9]+ \(unknown pool 20[0-9]\)"

# The wire, as tshark reads the registrar's side: operation errors (0x0e) and
# rejected registration responses, nothing malformed.
sleep 0.5
kill -INT "${pids[0]}"
wait "${pids[0]}" || true
from_registrar=(-r "$WORK/asap.pcapng" -d "udp.port==$reg_udp,sctp" -Y "udp.srcport == $reg_udp && asap")
errors=$(tshark "${from_registrar[@]}" -T fields -e asap.message_type | tr ',' '\n' | grep -c '^14$' || true)
[[ $errors -ge 1 ]] || die "tshark sees $errors ASAP ERROR messages from the registrar"
rejects=$(tshark "${from_registrar[@]}" -T fields -e asap.cause_code | tr ',' '\n' | sort | uniq -c)
echo "$rejects"
grep -Eq "^ +101 0x0006$" <<<"$rejects" || die "tshark does not see 101 lack-of-resources causes"
grep -Eq "^ +20[0-9] 0x0009$" <<<"$rejects" || die "tshark does not see 200 unknown-pool-handle causes"
grep -Eq "^ +2 0x0005$" <<<"$rejects" || die "tshark does not see 2 inconsistent-policy causes"
grep -Eq "^ +[1-9][0-9]* 0x0002$" <<<"$rejects" || die "tshark does not see unrecognized-message causes"
# Those carry the offending policy parameter, the lifetimes their pool element.
n=$(tshark "${from_registrar[@]}" -Y "asap.cause_code == 5 && asap.pool_member_selection_policy_type" | wc -l)
[[ $n -eq 2 ]] || die "tshark finds the policy parameter in $n inconsistent-policy causes"
n=$(tshark "${from_registrar[@]}" -Y "asap.cause_code == 3 && asap.pool_element_pe_identifier" | wc -l)
[[ $n -ge 4 ]] || die "tshark finds the pool element in $n invalid-values causes"
bad=$(tshark -r "$WORK/asap.pcapng" -d "udp.port==$reg_udp,sctp" \
  -Y "udp.srcport == $reg_udp && (_ws.malformed || _ws.expert.severity >= error)" | wc -l)
[[ $bad -eq 0 ]] || die "$bad malformed packets or expert errors from the registrar"
echo "rserpool_bad_input: OK"
