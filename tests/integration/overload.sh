#!/usr/bin/env bash
# Bad input and overload: a capture of random bytes (most claiming IPv4/IPv6),
# and all-new flows through a flow table far too small and the smallest record
# ring. The worker neither crashes nor stalls; random frames are counted as
# ignored; evictions are counted (lack of resources); a playback waits for ring
# space rather than dropping; every flow's records still add up to its totals.
source "$(dirname "$0")/common.sh"

/usr/bin/python3 - "$WORK/random.pcap" <<'PY'
import random, struct, sys
rng = random.Random(7)
with open(sys.argv[1], "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    for i in range(50000):
        frame = bytearray(rng.getrandbits(8) for _ in range(rng.randint(1, 200)))
        if len(frame) >= 15 and i % 3:  # two thirds claim IPv4 or IPv6 after random MACs
            frame[12:15] = (b"\x08\x00\x45" if i % 3 == 1 else b"\x86\xdd\x60")
        f.write(struct.pack("<IIII", 1_700_000_000 + i // 1000, (i % 1000) * 1000, len(frame), len(frame)) + frame)
PY
timeout -k 10 60 "$POOLFLOWD" --pcap "$WORK/random.pcap" --output "file:$WORK/random.ipfix" \
  >"$WORK/random.txt" 2>"$WORK/log.txt" || { cat "$WORK/log.txt" >&2; die "poolflowd failed on random bytes"; }
cat "$WORK/random.txt"
expect_line "$WORK/random.txt" "packets received +50000 "
expect_line "$WORK/random.txt" "packets ignored .*ipv4_bad_length [0-9]+.*ipv6_bad_length [0-9]+"
ipfixDump -i "$WORK/random.ipfix" >/dev/null

# 100000 flows, each new, through a table of 1024 slots.
"$GEN" --out "$WORK/flood.pcap" --manifest "$WORK/flood.csv" --packets 200000 --flows 100000 \
  --tcp-syn-fin --seed 41 >/dev/null
timeout -k 10 120 "$POOLFLOWD" --pcap "$WORK/flood.pcap" --output "file:$WORK/flood.ipfix" \
  --set meter.flow_table_size=1024 --set meter.ring_size=1024 >"$WORK/flood.txt" 2>"$WORK/log.txt" ||
  { cat "$WORK/log.txt" >&2; die "poolflowd failed on the flood"; }
cat "$WORK/flood.txt"
expect_line "$WORK/flood.txt" "flows ended .*lack_of_resources [0-9]+"
expect_line "$WORK/flood.txt" "ring drops 0"
$CHECK_IPFIX --ipfix "$WORK/flood.ipfix" --manifest "$WORK/flood.csv" --min-records 100000
