#!/usr/bin/env bash
# A live port: tcpreplay into a veth inside a network namespace, poolflowd on
# DPDK's net_af_packet at the other end (scripts/tcpreplay-veth.sh). Every packet
# sent is received, and the records add up to the manifest.
source "$(dirname "$0")/common.sh"

"$GEN" --out "$WORK/in.pcap" --manifest "$WORK/manifest.csv" --packets 20000 --flows 500 \
  --ipv6 0.3 --vlan 0.2 --seed 51 >/dev/null
"$HERE/../../scripts/tcpreplay-veth.sh" --build "$BUILD" --pcap "$WORK/in.pcap" --pps 40000 \
  --seconds 60 --output "file:$WORK/out.ipfix" >"$WORK/summary.txt" 2>&1 ||
  { cat "$WORK/summary.txt" >&2; die "tcpreplay-veth failed"; }
cat "$WORK/summary.txt"
expect_line "$WORK/summary.txt" "tcpreplay sent 20000 packets .* poolflowd received 20000 on net_af_packet"
$CHECK_IPFIX --ipfix "$WORK/out.ipfix" --manifest "$WORK/manifest.csv"
