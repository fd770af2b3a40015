#!/usr/bin/env bash
# A replayed capture with a gap of 10 hours. The flow table keeps times modulo
# 2^24 ms (4.66 hours), so the worker must end every flow, as due before the
# gap, before its clock jumps. The same 2000 flows are seen before and after the
# gap: each must be exported twice, once wholly before the gap (idle timeout, at
# the jump) and once wholly after it (forced end, at the end of the capture),
# with the exact times of its packets, and the records must add up to both
# parts' totals.
source "$(dirname "$0")/common.sh"

start_s=1700000000
gap_s=36000
for part in a b; do
  [[ $part == a ]] && at=$start_s || at=$((start_s + gap_s))
  "$GEN" --out "$WORK/$part.pcap" --manifest "$WORK/$part.csv" --packets 20000 --flows 2000 \
    --rate 2000 --ipv6 0.3 --vlan 0.2 --seed 5 --start-time "$at" >/dev/null
done

/usr/bin/python3 - "$WORK" <<'EOF'
import csv, sys
work = sys.argv[1]
with open(f"{work}/in.pcap", "wb") as out:
    out.write(open(f"{work}/a.pcap", "rb").read())
    out.write(open(f"{work}/b.pcap", "rb").read()[24:])  # without its file header
totals, fields = {}, None
for part in "ab":
    with open(f"{work}/{part}.csv") as f:
        reader = csv.DictReader(f)
        fields = reader.fieldnames
        for row in reader:
            key = tuple(row[c] for c in fields if "packets" not in c and "octets" not in c)
            if key in totals:
                for c in fields:
                    if "packets" in c or "octets" in c:
                        totals[key][c] = str(int(totals[key][c] or 0) + int(row[c] or 0))
            else:
                totals[key] = row
with open(f"{work}/manifest.csv", "w", newline="") as f:
    writer = csv.DictWriter(f, fieldnames=fields)
    writer.writeheader()
    writer.writerows(totals.values())
EOF

timeout -k 10 120 "$POOLFLOWD" --pcap "$WORK/in.pcap" --output "file:$WORK/out.ipfix" \
  --set meter.idle_timeout_s=60 --set meter.active_timeout_s=7200 >"$WORK/summary.txt" \
  2>"$WORK/log.txt" || { cat "$WORK/log.txt" >&2; die "poolflowd failed"; }
cat "$WORK/summary.txt"
$CHECK_IPFIX --ipfix "$WORK/out.ipfix" --manifest "$WORK/manifest.csv" --min-records 4000

/usr/bin/python3 - "$WORK/out.ipfix" "$start_s" "$gap_s" "$HERE/../../scripts" <<'EOF'
import collections, datetime, sys
sys.path.insert(0, sys.argv[4])
from ipfix_summary import read_ipfixdump

start_ms, gap_ms = int(sys.argv[2]) * 1000, int(sys.argv[3]) * 1000
part_ms = 20000 * 1000 // 2000  # 20000 packets at 2000 a second
def ms(text):
    t = datetime.datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=datetime.timezone.utc)
    return round(t.timestamp() * 1000)

records = [r for r in read_ipfixdump(sys.argv[1])[0] if "packetDeltaCount" in r]
parts = collections.Counter()
for r in records:
    first, last = ms(r["flowStartMilliseconds"]), ms(r["flowEndMilliseconds"])
    reason = int(r["flowEndReason"])
    if start_ms <= first <= last <= start_ms + part_ms:
        parts["before"] += 1
        assert reason == 1, f"a flow before the gap ended with reason {reason}, not idle timeout: {r}"
    elif start_ms + gap_ms <= first <= last <= start_ms + gap_ms + part_ms:
        parts["after"] += 1
        assert reason == 4, f"a flow after the gap ended with reason {reason}, not forced end: {r}"
    else:
        sys.exit(f"clock_jump: FAIL: a record outside both parts of the capture: {r}")
print(f"clock_jump: {parts['before']} records before the gap, {parts['after']} after it")
assert parts["before"] == parts["after"] >= 2000, parts
EOF
