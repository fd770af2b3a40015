#!/usr/bin/env bash
# A peer exporter as the judge: the same pcap through Debian's softflowd (IPFIX to
# nfdump's nfcapd) and through poolflowd (IPFIX file, decoded by libfixbuf's
# ipfixDump). Every flow (addresses, ports, packets, octets) must be the same in
# both, and both must add up to poolflow-gen's manifest.
source "$(dirname "$0")/common.sh"
port=47440
flows=800

"$GEN" --out "$WORK/in.pcap" --manifest "$WORK/manifest.csv" --seed 17 \
  --packets 20000 --flows "$flows" --ipv6 0.3 --sizes imix >/dev/null

mkdir "$WORK/nfcapd"
nfcapd -b 127.0.0.1 -p "$port" -w "$WORK/nfcapd" -t 3600 >"$WORK/nfcapd.log" 2>&1 &
nfcapd=$!
trap 'kill -KILL $nfcapd 2>/dev/null || true; rm -rf "$WORK"' EXIT
wait_for "$WORK/nfcapd.log" "Startup" 10
sleep 0.5  # "Startup" is logged just before the socket is read
timeout 60 softflowd -r "$WORK/in.pcap" -n "127.0.0.1:$port" -v 10 -m $((flows * 2)) -d \
  >"$WORK/softflowd.log" 2>&1 || { cat "$WORK/softflowd.log" >&2; die "softflowd failed"; }
sleep 1
kill -TERM "$nfcapd"
timeout 20 tail --pid="$nfcapd" -f /dev/null || die "nfcapd did not stop"

timeout -k 10 60 "$POOLFLOWD" --pcap "$WORK/in.pcap" --output "file:$WORK/out.ipfix" \
  >"$WORK/summary.txt" 2>"$WORK/log.txt" || { cat "$WORK/log.txt" >&2; die "poolflowd failed"; }

# One line a flow: source, destination, packets, octets; sorted.
nfdump -R "$WORK/nfcapd" -q -6 -o "fmt:%sa %sp %da %dp %pkt %byt" |
  awk '{ print $1 "/" $2, $3 "/" $4, $5, $6 }' | sort >"$WORK/softflowd.flows"
/usr/bin/python3 - "$WORK/out.ipfix" "$HERE/../../scripts" <<'PY' | sort >"$WORK/poolflowd.flows"
import ipaddress, sys
sys.path.insert(0, sys.argv[2])
from ipfix_summary import read_ipfixdump
records, _ = read_ipfixdump(sys.argv[1])
for r in records:
    if "packetDeltaCount" not in r:
        continue  # options records
    # ipfixDump keeps leading zeros in IPv6 groups; nfdump prints them as inet_ntop does
    address = lambda s: ipaddress.ip_address(r.get(f"{s}IPv4Address") or r.get(f"{s}IPv6Address"))
    # nfdump shows an ICMP flow's type and code as its destination port, "type.code"
    icmp = r.get("icmpTypeCodeIPv4") or r.get("icmpTypeCodeIPv6")
    if r["protocolIdentifier"] in ("1", "58"):
        destination_port = f"{int(icmp) >> 8}.{int(icmp) & 255}"
    else:
        destination_port = r.get("destinationTransportPort", "0")
    print(f"{address('source')}/{r.get('sourceTransportPort', '0')}",
          f"{address('destination')}/{destination_port}", r["packetDeltaCount"], r["octetDeltaCount"])
PY
[[ $(wc -l <"$WORK/poolflowd.flows") -eq $flows ]] || die "poolflowd: $(wc -l <"$WORK/poolflowd.flows") flows, not $flows"
diff "$WORK/softflowd.flows" "$WORK/poolflowd.flows" >"$WORK/diff.txt" ||
  { head -20 "$WORK/diff.txt" >&2; die "softflowd and poolflowd disagree on $(grep -c '^[<>]' "$WORK/diff.txt") lines"; }
read -r packets octets < <(awk -F, 'NR > 1 { p += $8; o += $9 } END { print p, o }' "$WORK/manifest.csv")
awk -v p="$packets" -v o="$octets" '{ sp += $3; so += $4 } END { exit !(sp == p && so == o) }' \
  "$WORK/poolflowd.flows" || die "totals differ from the manifest ($packets packets, $octets octets)"
echo "softflowd and poolflowd: the same $flows flows ($packets packets, $octets octets), as the manifest"
