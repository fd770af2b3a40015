#!/usr/bin/env bash
# Export survives a collector restart, over TCP and SCTP at once: poolflowd (live
# port) loses the connection and the association, counts what it could not send,
# and gets a new transport session while workers and the aggregation thread run
# on: TCP reconnects itself after its back-off, the control core opens a new
# SCTP association and hands it to the aggregation thread. Each new session
# starts with its templates, so the new collector decodes every record.
source "$(dirname "$0")/common.sh"
COLLECTOR=$BUILD/src/poolflow-collector
port=47425

"$GEN" --out "$WORK/loop.pcap" --packets 2000 --flows 100 >/dev/null
start_collector() {  # start_collector NAME
  "$COLLECTOR" --listen "tcp:127.0.0.1:$port" --listen "sctp:127.0.0.1:$port" \
    --write "jsonl:$WORK/$1.jsonl" >"$WORK/$1.txt" 2>"$WORK/$1.log" &
  collector=$!
  wait_for "$WORK/$1.log" "listening on" 10
}
start_collector first
# Flows end after 1 s idle... never on a looped capture; the active timeout does it.
"$POOLFLOWD" --set "input.devices=[\"net_pcap0,rx_pcap=$WORK/loop.pcap,infinite_rx=1\"]" \
  --output "tcp:127.0.0.1:$port" --output "sctp:127.0.0.1:$port" \
  --set meter.active_timeout_s=1 --set export.flush_interval_ms=100 \
  --set export.statistics_interval_s=1 \
  --set tcp.reconnect_interval_s=1 --set tcp.reconnect_max_s=2 --set sctp.reconnect_interval_s=1 \
  >"$WORK/summary.txt" 2>"$WORK/log.txt" &
poolflowd=$!
trap 'kill -KILL $collector $poolflowd 2>/dev/null || true; rm -rf "$WORK"' EXIT
wait_for "$WORK/first.log" "session 2 started" 20  # one TCP, one SCTP session
sleep 3
kill -INT "$collector"
wait "$collector" || true
sleep 2  # poolflowd goes on without a collector
start_collector second
wait_for "$WORK/second.log" "session [12] started: tcp" 20
wait_for "$WORK/second.log" "session [12] started: sctp" 20
sleep 3
kill -USR1 "$collector"
sleep 0.5
kill -INT "$poolflowd"
timeout 30 tail --pid="$poolflowd" -f /dev/null || die "poolflowd did not stop"
wait "$poolflowd" || die "poolflowd exit $?"
sleep 0.5
kill -INT "$collector"
wait "$collector" || true
cat "$WORK/log.txt" "$WORK/summary.txt" "$WORK/first.txt" "$WORK/second.log" "$WORK/second.txt"

expect_line "$WORK/first.txt" "tcp 127.0.0.1:[0-9]+.*records [1-9][0-9]*, lost 0 .*errors: none"
expect_line "$WORK/log.txt" "tcp:127.0.0.1:$port: TCP connected \(transport session 2\)"
expect_line "$WORK/summary.txt" "exported to tcp:127.0.0.1:$port: .* 2 transport sessions"
tcp=$(grep -E "^  tcp 127.0.0.1" "$WORK/second.txt" | tail -n 1)
[[ $tcp =~ records\ ([0-9]+), ]] && ((BASH_REMATCH[1] > 0)) || die "no records after reconnecting: $tcp"
# Flow templates 256-259 and the statistics' options templates 265, 266 and 267.
[[ $tcp == *"templates 7 (withdrawn 0)"* ]] || die "the new session did not start with templates: $tcp"
[[ $tcp == *"errors: none" ]] || die "the new session had bad input: $tcp"
[[ $tcp == *"lost 0 in 0 gaps"* ]] || die "the new session numbered its records wrongly: $tcp"
# While no collector ran, SCTP records were counted as not sent; then a new
# association carried a new session: templates (flow and options) first.
sctp=$(grep "exported to sctp" "$WORK/summary.txt")
[[ $sctp =~ \(([0-9]+)\ records, ]] && ((BASH_REMATCH[1] > 0)) || die "SCTP loss not counted: $sctp"
[[ $sctp == *" 2 transport sessions"* ]] || die "no second SCTP session: $sctp"
expect_line "$WORK/log.txt" "sctp:127.0.0.1:$port: association lost; a new one is up"
expect_line "$WORK/log.txt" "export: switching from sctp:127.0.0.1:$port to sctp:127.0.0.1:$port"
sctp=$(grep -E "^  sctp 127.0.0.1" "$WORK/second.txt" | tail -n 1)
[[ $sctp =~ records\ ([0-9]+), ]] && ((BASH_REMATCH[1] > 0)) || die "no records after reconnecting: $sctp"
# 256-259 and 260-263 with their reliability options template 264 on streams 1 and 2,
# 265, 266 and 267 on 0; and the reliable records the first collector had not
# confirmed stored come again, as replayed records: 272-275 (and 264 with them).
replayed=$(grep -oP "replay buffer: .* \K\d+(?= replayed)" "$WORK/summary.txt")
((replayed > 0)) || die "no reliable record replayed after the collector's restart"
[[ $sctp == *"templates 18 (withdrawn 0)"* ]] ||
  die "the new association did not start with templates: $sctp"
expect_line "$WORK/second.log" "failed over from collector PE 00000000 \(its session [0-9]+\)"
[[ $sctp == *"lost 0 in 0 gaps"* && $sctp == *"errors: none" ]] || die "new association: $sctp"
# The Exporting Process Reliability Statistics the new collector received say what
# the exporter's summary says it could not send (records, for each output).
for kind in tcp sctp; do
  not_sent=$(grep -oP "exported to $kind:\S+ .* \(\K\d+(?= records, )" "$WORK/summary.txt")
  reported=$(/usr/bin/python3 -c '
import json, sys
values = [r["notSentFlowTotalCount"] for r in map(json.loads, open(sys.argv[1]))
          if "notSentFlowTotalCount" in r and r["exporter"].startswith(sys.argv[2] + " ")]
print(max(values) if values else -1)' "$WORK/second.jsonl" "$kind")
  [[ $reported -eq $not_sent ]] ||
    die "$kind: notSentFlowTotalCount $reported at the collector, $not_sent records not sent"
  # exportedFlowRecordTotalCount: what had been sent when the last report left.
  sent=$(grep -oP "exported to $kind:\S+ \K\d+(?= records)" "$WORK/summary.txt")
  reported=$(/usr/bin/python3 -c '
import json, sys
values = [r["exportedFlowRecordTotalCount"] for r in map(json.loads, open(sys.argv[1]))
          if "exportedFlowRecordTotalCount" in r and r["exporter"].startswith(sys.argv[2] + " ")]
print(max(values) if values else -1)' "$WORK/second.jsonl" "$kind")
  ((reported > 0 && reported <= sent)) ||
    die "$kind: exportedFlowRecordTotalCount $reported at the collector, $sent records sent"
  # Every record the workers ended was either sent or counted as not sent, once
  # (none vanished with a transport that was replaced, nor was counted twice),
  # but for records replayed, which may have been sent before too.
  received=$(grep -oP "records received +\K\d+" "$WORK/summary.txt")
  again=$([[ $kind == sctp ]] && echo "$replayed" || echo 0)
  ((sent + not_sent >= received && sent + not_sent <= received + again)) ||
    die "$kind: $sent sent + $not_sent not sent against $received records from the workers ($again replayed)"
done
# Exported totals in successive statistics records never go down (totalCounters).
/usr/bin/python3 - "$WORK/first.jsonl" "$WORK/second.jsonl" <<'PY'
import json, sys
last = {}  # across both files: the exporter's totals go on from one collector to the next
for path in sys.argv[1:]:
    for r in map(json.loads, open(path)):
        if "exportedFlowRecordTotalCount" not in r:
            continue
        exporter = r["exporter"].split(" ")[0]
        value = int(r["exportedFlowRecordTotalCount"])
        assert value >= last.get(exporter, 0), f"{path}: {exporter} exported total went down: {r}"
        last[exporter] = value
PY
# Metering Process Reliability records repeat observationTimeMilliseconds (first
# and last packet ignored): the JSON lines keep both, the second as "..._2".
/usr/bin/python3 - "$WORK/second.jsonl" <<'PY'
import json, sys
records = [r for r in map(json.loads, open(sys.argv[1])) if "ignoredPacketTotalCount" in r]
assert records, "no Metering Process Reliability record in the JSON lines"
for r in records:
    assert "observationTimeMilliseconds" in r and "observationTimeMilliseconds_2" in r, r
    assert r["observationTimeMilliseconds"] <= r["observationTimeMilliseconds_2"], r
print(f"{len(records)} Metering Process Reliability records with both time stamps")
PY
echo "TCP and SCTP reconnected with templates; loss while no collector ran counted and reported"
