#!/usr/bin/env bash
# Loss accounting over SCTP with the collector's receive side throttled (stopped
# for 1.5 s while a live export runs): best-effort records (other flows, PR-SCTP
# ttl:200) age out and are counted as not sent; the collector sees exactly those
# as a sequence gap on their stream; reliable records (TCP flows, stream 1) all
# arrive; the exporter's in-band notSentFlowTotalCount says the same, and its
# Exporting Process Reliability records (ipfixDump on the collector's files) date
# the first and the last record not sent within the stall (both 0 before it).
source "$(dirname "$0")/common.sh"
COLLECTOR=$BUILD/src/poolflow-collector
port=47480

"$GEN" --out "$WORK/loop.pcap" --packets 10000 --flows 5000 >/dev/null
mkdir "$WORK/files"
"$COLLECTOR" --listen "sctp:127.0.0.1:$port" --write "jsonl:$WORK/records.jsonl" \
  --write "file:$WORK/files" \
  >"$WORK/collector.txt" 2>"$WORK/collector.log" &
collector=$!
trap 'kill -CONT $collector 2>/dev/null || true; kill -KILL $collector ${poolflowd:-} 2>/dev/null || true; rm -rf "$WORK"' EXIT
wait_for "$WORK/collector.log" "listening on" 10
# A 1.5 s stall must not end the association: slower dead-peer detection here.
"$POOLFLOWD" --set "input.devices=[\"net_pcap0,rx_pcap=$WORK/loop.pcap,infinite_rx=1\"]" \
  --output "sctp:127.0.0.1:$port" --set meter.active_timeout_s=1 \
  --set export.flush_interval_ms=50 --set 'export.other_flows="ttl:200"' \
  --set export.statistics_interval_s=1 \
  --set export.send_queue_kib=65536 --set sctp.send_buffer_kib=256 \
  --set sctp.max_retransmissions=40 --set sctp.rto_max_ms=500 \
  --set sctp.heartbeat_interval_ms=1000 >"$WORK/summary.txt" 2>"$WORK/log.txt" &
poolflowd=$!
wait_for "$WORK/collector.log" "session 1 started" 10
sleep 2.5
stalled_ms=$(date +%s%3N)
kill -STOP "$collector"
sleep 1.5
kill -CONT "$collector"
sleep 3
kill -INT "$poolflowd"
timeout 30 tail --pid="$poolflowd" -f /dev/null || die "poolflowd did not stop"
wait "$poolflowd" || die "poolflowd exit $?"
ended_ms=$(date +%s%3N)
kill -INT "$collector"
timeout 20 tail --pid="$collector" -f /dev/null || die "collector did not stop"
cat "$WORK/summary.txt" "$WORK/collector.txt"

exported=$(grep "exported to sctp" "$WORK/summary.txt")
[[ $exported =~ \(([0-9]+)\ records,\ ([0-9]+)\ of\ them\ reliable\),\ ([0-9]+)\ abandoned ]] ||
  die "no summary line: $exported"
not_sent=${BASH_REMATCH[1]} reliable_not_sent=${BASH_REMATCH[2]} abandoned=${BASH_REMATCH[3]}
((not_sent > 0)) || die "the stall cost no best-effort record: nothing was tested"
((reliable_not_sent == 0)) || die "$reliable_not_sent reliable records not sent"
grep -q "stream 1 domain 1: lost" "$WORK/collector.txt" && die "reliable records lost on stream 1"
stream2=$(grep -oP "stream 2 domain 1: lost \K\d+" "$WORK/collector.txt" | tail -n 1)
# Messages PR-SCTP gave up on after sending may or may not have arrived: each
# carries at most 25 records (1400-octet messages of 56-octet IPv4 records).
((stream2 >= not_sent && stream2 <= not_sent + 25 * abandoned)) ||
  die "collector lost $stream2 on stream 2; exporter did not send $not_sent (+ $abandoned abandoned messages)"
reported=$(/usr/bin/python3 -c '
import json, sys
print(max(r["notSentFlowTotalCount"] for r in map(json.loads, open(sys.argv[1]))
          if "notSentFlowTotalCount" in r))' "$WORK/records.jsonl")
((reported == not_sent)) || die "notSentFlowTotalCount $reported, exporter summary $not_sent"
for file in "$WORK"/files/*.ipfix; do ipfixDump -i "$file" || die "ipfixDump $file"; done \
  >"$WORK/dump.txt"
/usr/bin/python3 - "$WORK/dump.txt" "$not_sent" "$stalled_ms" "$ended_ms" <<'PY'
import datetime, re, sys
dump = open(sys.argv[1]).read()
not_sent, stalled, ended = map(int, sys.argv[2:])
def ms(text):
    return round(datetime.datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f")
                 .replace(tzinfo=datetime.timezone.utc).timestamp() * 1000)
records = [(int(n), ms(first), ms(last)) for n, first, last in re.findall(
    r"notSentFlowTotalCount : (\d+)\n.*\n.*\n"
    r".*observationTimeMilliseconds : (.*)\n.*observationTimeMilliseconds : (.*)\n", dump)]
assert any(n == 0 for n, _, _ in records), f"no record from before the stall: {records}"
assert records[-1][0] == not_sent, f"last notSentFlowTotalCount {records[-1][0]}, {not_sent} not sent"
for n, first, last in records:
    if n == 0:
        assert first == last == 0, f"nothing lost yet, but a time window {first}-{last}"
    else:
        assert stalled <= first <= last <= ended, f"lost {first}-{last}, stalled {stalled}, ended {ended}"
print(f"{len(records)} Exporting Process Reliability records; records not sent from "
      f"{records[-1][1] - stalled} to {records[-1][2] - stalled} ms after the stall began")
PY
echo "loss accounting: $not_sent best-effort records not sent = collector gap $stream2" \
  "(abandoned messages $abandoned); reliable records all arrived"
