#!/usr/bin/env bash
# Two played back captures and two workers (sharing CPUs: this machine has two): the
# captures are dealt out one per worker, both run, and the exported records add up
# to both captures' manifests.
source "$(dirname "$0")/common.sh"

"$GEN" --out "$WORK/a.pcap" --manifest "$WORK/a.csv" --packets 30000 --flows 800 --seed 31 >/dev/null
"$GEN" --out "$WORK/b.pcap" --manifest "$WORK/b.csv" --packets 20000 --flows 600 --ipv6 1 \
  --seed 32 >/dev/null
{ cat "$WORK/a.csv"; tail -n +2 "$WORK/b.csv"; } >"$WORK/manifest.csv"

timeout -k 10 120 "$POOLFLOWD" --pcap "$WORK/a.pcap" --pcap "$WORK/b.pcap" --output "file:$WORK/out.ipfix" \
  --set cpu.exclusive=false --set 'cpu.worker_cores=[1,0]' --set cpu.aggregator_core=0 \
  >"$WORK/summary.txt" 2>"$WORK/log.txt" || { cat "$WORK/log.txt" >&2; die "poolflowd failed"; }
cat "$WORK/log.txt" "$WORK/summary.txt"
expect_line "$WORK/log.txt" "a.pcap: played as ingress port 0 by one worker \\(classic pcap"
expect_line "$WORK/log.txt" "b.pcap: played as ingress port 1 by one worker"
expect_line "$WORK/summary.txt" "worker 0 +30000 packets, 800 flows created \(port/queue: 0/0\), [0-9.]+ s CPU"
expect_line "$WORK/summary.txt" "worker 1 +20000 packets, 600 flows created \(port/queue: 1/0\), [0-9.]+ s CPU"
$CHECK_IPFIX --ipfix "$WORK/out.ipfix" --manifest "$WORK/manifest.csv"
