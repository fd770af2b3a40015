#!/usr/bin/env bash
# SIGINT on a live port: every active flow is ended (forced end), the IPFIX file
# is closed and decodes, and the records equal the flows the summary counted.
source "$(dirname "$0")/common.sh"

"$GEN" --out "$WORK/loop.pcap" --packets 5000 --flows 300 --ipv6 0.5 >/dev/null
# net_pcap with infinite_rx players the capture forever: a live source.
"$POOLFLOWD" --set "input.devices=[\"net_pcap0,rx_pcap=$WORK/loop.pcap,infinite_rx=1\"]" \
  --output "file:$WORK/out.ipfix" >"$WORK/summary.txt" 2>"$WORK/log.txt" &
pid=$!
trap 'kill -KILL $pid 2>/dev/null || true; rm -rf "$WORK"' EXIT
wait_for "$WORK/log.txt" "worker\(s\) on core" 10
sleep 2
rc=0
interrupt "$pid" || rc=$?
cat "$WORK/log.txt" "$WORK/summary.txt"
[[ $rc -eq 0 ]] || die "exit $rc after SIGINT"
expect_line "$WORK/log.txt" "signal 2: ending every flow"
expect_line "$WORK/summary.txt" "flows ended +300 \(forced_end 300\)"
expect_line "$WORK/summary.txt" "exported to file:.*: 300 records"
ipfixDump -i "$WORK/out.ipfix" >"$WORK/dump.txt"
expect_line "$WORK/dump.txt" "File Stats: .* 300 Data Records"
[[ $(grep -c "flowEndReason : 4" "$WORK/dump.txt") -eq 300 ]] || die "not every record is a forced end"
echo "SIGINT: 300 flows flushed, file valid"
