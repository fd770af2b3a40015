#!/usr/bin/env bash
# Reopening a lost SCTP association never blocks the control core: with the
# collector killed, poolflowd (live port) keeps trying to reconnect once a second
# while each handshake runs unanswered for 3 s (INIT retransmitted every second);
# meanwhile its progress line still comes
# every second, SIGINT is handled within a tick or two, the worker meters on and
# the aggregation thread counts what it cannot send.
source "$(dirname "$0")/common.sh"
COLLECTOR=$BUILD/src/poolflow-collector
port=47426

"$GEN" --out "$WORK/loop.pcap" --packets 2000 --flows 100 >/dev/null
"$COLLECTOR" --listen "sctp:127.0.0.1:$port" >"$WORK/collector.txt" 2>"$WORK/collector.log" &
collector=$!
wait_for "$WORK/collector.log" "listening on" 10
"$POOLFLOWD" --set "input.devices=[\"net_pcap0,rx_pcap=$WORK/loop.pcap,infinite_rx=1\"]" \
  --output "sctp:127.0.0.1:$port" --set meter.active_timeout_s=1 \
  --set export.flush_interval_ms=100 --set log.stats_interval_s=1 \
  --set sctp.reconnect_interval_s=1 --set sctp.connect_timeout_ms=3000 \
  --set sctp.rto_initial_ms=1000 --set sctp.rto_max_ms=1000 \
  >"$WORK/summary.txt" 2>"$WORK/log.txt" &
poolflowd=$!
trap 'kill -KILL $collector $poolflowd 2>/dev/null || true; rm -rf "$WORK"' EXIT
wait_for "$WORK/collector.log" "session 1 started: sctp" 20
kill -KILL "$collector"  # nothing answers on UDP 9899 any more: handshakes go unanswered
wait "$collector" 2>/dev/null || true
wait_for "$WORK/log.txt" "reconnecting failed" 20
sleep 5
sent_ms=$(date +%s%3N)
kill -INT "$poolflowd"
timeout 30 tail --pid="$poolflowd" -f /dev/null || die "poolflowd did not stop"
wait "$poolflowd" || die "poolflowd exit $?"
cat "$WORK/log.txt" "$WORK/summary.txt"

/usr/bin/python3 - "$WORK/log.txt" "$WORK/summary.txt" "$sent_ms" <<'PY'
import datetime, re, sys
log = open(sys.argv[1]).read().splitlines()
summary = open(sys.argv[2]).read()
sent_ms = int(sys.argv[3])
def ms(line):
    stamp = datetime.datetime.strptime(line[:23], "%Y-%m-%dT%H:%M:%S.%f")
    return stamp.timestamp() * 1000  # poolflowd logs local time, as datetime reads it
failed = [ms(l) for l in log if "reconnecting failed" in l]
assert len(failed) >= 2, f"only {len(failed)} failed reconnection attempts"
# Progress lines while the reconnection attempts ran: one a second, none held up.
progress = [(ms(l), int(re.search(r"\| packets (\d+)", l).group(1))) for l in log
            if " rx " in l and "pkt/s" in l and ms(l) >= failed[0] - 1000]
gaps = [b[0] - a[0] for a, b in zip(progress, progress[1:])]
assert len(progress) >= 4 and max(gaps) < 1500, f"progress lines {len(progress)}, gaps {gaps} ms"
# The worker meters on.
assert all(b[1] > a[1] for a, b in zip(progress, progress[1:])), f"packets {progress}"
signal = [ms(l) for l in log if "signal 2" in l]
assert signal and signal[0] - sent_ms < 300, f"SIGINT handled {signal[0] - sent_ms:.0f} ms late"
# The aggregation thread counted what it could not send.
not_sent = int(re.search(r"exported to sctp\S+ .* \((\d+) records,", summary).group(1))
assert not_sent > 0, "no record counted as not sent"
print(f"{len(failed)} reconnection attempts failed; progress every {max(gaps):.0f} ms at most; "
      f"SIGINT handled after {signal[0] - sent_ms:.0f} ms; {not_sent} records not sent")
PY
