#!/usr/bin/env bash
# Exact expiry: 20000 flows that start and go idle at different times over 40 s
# of capture time (idle timeout 1 s, active timeout 5 s). No flow is exported
# later than its timeout plus one second of flow time, and the split records
# still add up to every flow's totals.
source "$(dirname "$0")/common.sh"

"$GEN" --out "$WORK/in.pcap" --manifest "$WORK/manifest.csv" --packets 200000 --flows 20000 \
  --lifetime 0.15 --rate 5000 --ipv6 0.3 --seed 21 >/dev/null
timeout 120 "$POOLFLOWD" --pcap "$WORK/in.pcap" --output "file:$WORK/out.ipfix" \
  --set meter.idle_timeout_s=1 --set meter.active_timeout_s=5 \
  --set meter.flow_table_size=65536 >"$WORK/summary.txt" 2>"$WORK/log.txt" ||
  { cat "$WORK/log.txt" >&2; die "poolflowd failed"; }
cat "$WORK/summary.txt"
lateness=$(sed -nE 's/ *expiry lateness +([0-9]+) ms.*/\1/p' "$WORK/summary.txt")
[[ -n $lateness ]] || die "no expiry lateness in the summary"
((lateness <= 1000)) || die "a flow was exported ${lateness} ms after its timeout (bound: 1000 ms)"
expect_line "$WORK/summary.txt" "flows ended .*idle [0-9]+"
expect_line "$WORK/summary.txt" "flows ended .*active [0-9]+"
$CHECK_IPFIX --ipfix "$WORK/out.ipfix" --manifest "$WORK/manifest.csv" --min-records 40000
echo "expiry bound: at most ${lateness} ms past the timeout"
