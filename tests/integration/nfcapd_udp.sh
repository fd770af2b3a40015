#!/usr/bin/env bash
# poolflowd's UDP export read by an independent collector, nfdump's nfcapd:
# zero sequence errors, zero bad packets, and flows, packets and octets equal
# to poolflow-gen's manifest.
source "$(dirname "$0")/common.sh"
port=47430

"$GEN" --out "$WORK/in.pcap" --manifest "$WORK/manifest.csv" --seed 9 \
  --packets 50000 --flows 2000 --ipv6 0.4 --vlan 0.3 --sizes imix --tcp-syn-fin
mkdir "$WORK/nfcapd"
# The whole export arrives in one burst at end of file: give nfcapd a socket
# buffer that holds it (raising net.core.rmem_max until the test ends).
old_rmem=$(sysctl -n net.core.rmem_max)
sysctl -qw net.core.rmem_max=16777216
nfcapd -b 127.0.0.1 -p "$port" -w "$WORK/nfcapd" -t 3600 -B 16777216 >"$WORK/nfcapd.log" 2>&1 &
nfcapd=$!
trap 'kill -KILL $nfcapd 2>/dev/null || true; sysctl -qw net.core.rmem_max=$old_rmem; rm -rf "$WORK"' EXIT
wait_for "$WORK/nfcapd.log" "Startup" 10
sleep 0.5  # "Startup" is logged just before the socket is read

timeout -k 10 120 "$POOLFLOWD" --pcap "$WORK/in.pcap" --output "udp:127.0.0.1:$port" \
  >"$WORK/summary.txt" 2>"$WORK/log.txt" || { cat "$WORK/log.txt" >&2; die "poolflowd failed"; }
expect_line "$WORK/summary.txt" "exported to udp:127.0.0.1:$port: 2000 records"
sleep 1
kill -TERM "$nfcapd"  # nfcapd writes its file and its statistics line when it stops
timeout 20 tail --pid="$nfcapd" -f /dev/null || die "nfcapd did not stop"
cat "$WORK/nfcapd.log"
packets=$(awk -F, 'NR > 1 { n += $8 } END { print n }' "$WORK/manifest.csv")
octets=$(awk -F, 'NR > 1 { n += $9 } END { print n }' "$WORK/manifest.csv")
expect_line "$WORK/nfcapd.log" "Flows: 2000, Packets: $packets, Bytes: $octets, Sequence Errors: 0, Bad Packets: 0"
nfdump -R "$WORK/nfcapd" -I >"$WORK/stat.txt"
expect_line "$WORK/stat.txt" "^Sequence failures: 0$"
expect_line "$WORK/stat.txt" "^Flows: 2000$"
echo "nfcapd: 2000 flows, $packets packets, $octets octets, no sequence errors"
