#!/usr/bin/env bash
# DPDK's net_null as a live port: it hands out 64-byte packets as fast as they
# are polled, their bytes whatever the mbufs held. The worker keeps up without
# crashing; every packet is either parsed or counted as ignored; SIGINT ends the
# run cleanly and the IPFIX file decodes.
source "$(dirname "$0")/common.sh"

"$POOLFLOWD" --set 'input.devices=["net_null0,size=64"]' --set log.stats_interval_s=1 \
  --output "file:$WORK/out.ipfix" >"$WORK/summary.txt" 2>"$WORK/log.txt" &
pid=$!
trap 'kill -KILL $pid 2>/dev/null || true; rm -rf "$WORK"' EXIT
wait_for "$WORK/log.txt" "rx [0-9]+ pkt/s" 15
rc=0
interrupt "$pid" || rc=$?
cat "$WORK/log.txt" "$WORK/summary.txt"
[[ $rc -eq 0 ]] || die "exit $rc after SIGINT"
/usr/bin/python3 - "$WORK/summary.txt" <<'PY'
import re, sys
summary = open(sys.argv[1]).read()
received = int(re.search(r"packets received +(\d+)", summary).group(1))
parsed = int(re.search(r"packets parsed +(\d+)", summary).group(1))
ignored = int(re.search(r"packets ignored +(\d+)", summary).group(1))
assert received >= 100_000, f"only {received} packets from net_null"
assert parsed + ignored == received, f"{parsed} parsed + {ignored} ignored != {received} received"
print(f"net_null: {received} packets, {parsed} parsed, {ignored} ignored")
PY
ipfixDump -i "$WORK/out.ipfix" >/dev/null || die "the IPFIX file does not decode"
