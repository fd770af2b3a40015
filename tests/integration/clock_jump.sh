#!/usr/bin/env bash
# Played back captures whose clock moves by hours. The flow table keeps times modulo
# 2^24 ms (4.66 hours), so the worker must end flows before they grow older
# than that.
# 1. A gap of 10 hours: the same 2000 flows are seen before and after it. Each
#    must be exported twice, once wholly before the gap (idle timeout, at the
#    jump) and once wholly after it (forced end, at the end of the capture), and
#    the records must add up to both parts' totals.
# 2. A sparse capture, all in one burst: flow A, then flow B every 55 minutes
#    (each step under the hour that counts as a jump), then A again 4.6 hours
#    after its first packet. Every packet must be a record of its own with its
#    exact time: A's first one ended by idle timeout, not merged with its second.
source "$(dirname "$0")/common.sh"

start_s=1700000000
gap_s=36000
for part in a b; do
  [[ $part == a ]] && at=$start_s || at=$((start_s + gap_s))
  "$GEN" --out "$WORK/$part.pcap" --manifest "$WORK/$part.csv" --packets 20000 --flows 2000 \
    --rate 2000 --ipv6 0.3 --vlan 0.2 --seed 5 --start-time "$at" >/dev/null
done

# Inputs: the two parts as one capture with one manifest; the sparse capture,
# its UDP packets written by hand.
/usr/bin/python3 - "$WORK" "$start_s" "$HERE" <<'EOF'
import csv, sys
work, start_ms = sys.argv[1], int(sys.argv[2]) * 1000
sys.path.insert(0, sys.argv[3])
from make_malformed_pcap import PCAP_HEADER, eth, ipv4, pcap_record, udp

with open(f"{work}/in.pcap", "wb") as out:
    out.write(open(f"{work}/a.pcap", "rb").read())
    out.write(open(f"{work}/b.pcap", "rb").read()[len(PCAP_HEADER):])
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

step = 55 * 60 * 1000
sparse = [(start_ms, 1000)] + [(start_ms + k * step, 2000) for k in range(1, 6)]
sparse.append((start_ms + 5 * step + 1000, 1000))
with open(f"{work}/sparse.pcap", "wb") as f:
    f.write(PCAP_HEADER)
    for at, sport in sparse:
        f.write(pcap_record(at, eth(0x0800, ipv4(17, udp(sport, 53)))))
EOF

for run in in sparse; do
  timeout -k 10 120 "$POOLFLOWD" --pcap "$WORK/$run.pcap" --output "file:$WORK/$run.ipfix" \
    --set meter.idle_timeout_s=60 --set meter.active_timeout_s=7200 >"$WORK/$run.txt" \
    2>"$WORK/$run-log.txt" || { cat "$WORK/$run-log.txt" >&2; die "poolflowd failed on $run.pcap"; }
done
cat "$WORK/in.txt"
$CHECK_IPFIX --ipfix "$WORK/in.ipfix" --manifest "$WORK/manifest.csv" --min-records 4000

/usr/bin/python3 - "$WORK" "$start_s" "$gap_s" "$HERE/../../scripts" <<'EOF'
import collections, datetime, sys
work, start_ms, gap_ms = sys.argv[1], int(sys.argv[2]) * 1000, int(sys.argv[3]) * 1000
sys.path.insert(0, sys.argv[4])
from ipfix_summary import read_ipfixdump

def ms(text):
    t = datetime.datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=datetime.timezone.utc)
    return round(t.timestamp() * 1000)

def flow_records(path):
    return [r for r in read_ipfixdump(path)[0] if "packetDeltaCount" in r]

# 1. Each record wholly in one part of the capture, with that part's end reason.
part_ms = 20000 * 1000 // 2000  # 20000 packets at 2000 a second
parts = collections.Counter()
for r in flow_records(f"{work}/in.ipfix"):
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

# 2. Every packet of the sparse capture a one-packet record at its exact time.
step = 55 * 60 * 1000
want = sorted([(1000, start_ms, 1)] + [(2000, start_ms + k * step, 1) for k in range(1, 5)] +
              [(2000, start_ms + 5 * step, 4), (1000, start_ms + 5 * step + 1000, 4)])
got = sorted((int(r["sourceTransportPort"]), ms(r["flowStartMilliseconds"]), int(r["flowEndReason"]))
             for r in flow_records(f"{work}/sparse.ipfix")
             if int(r["packetDeltaCount"]) == 1
             and r["flowStartMilliseconds"] == r["flowEndMilliseconds"])
if got != want:
    sys.exit(f"clock_jump: FAIL: sparse capture records (port, start, reason) {got}, expected {want}")
print(f"clock_jump: the sparse capture gave {len(got)} one-packet records at their exact times")
EOF
