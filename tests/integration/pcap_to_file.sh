#!/usr/bin/env bash
# End to end: poolflow-gen → pcap → poolflowd --pcap (DPDK net_pcap) → IPFIX file,
# checked by ipfixDump and tshark against the generator's manifest.
#   pcap_to_file.sh BUILD_DIR SCENARIO
#   (ipv4, ipv6, vlan, mixed, idle-split, two-way, biflow)
source "$(dirname "$0")/common.sh"
scenario=${2:?scenario}

min_records=0
extra_sets=()
check_args=()
case $scenario in
  ipv4) gen_args=(--packets 20000 --flows 500 --sizes 64) ;;
  ipv6) gen_args=(--packets 20000 --flows 500 --ipv6 1 --sizes 128) ;;
  vlan) gen_args=(--packets 20000 --flows 500 --vlan 1 --sizes imix) ;;
  mixed) gen_args=(--packets 50000 --flows 2000 --ipv6 0.4 --vlan 0.3 --sizes imix --tcp-syn-fin) ;;
  idle-split)
    # 4000 packets over 40 s of capture time with a 1 s idle timeout: flows end
    # and restart many times in packet time, and their records still add up.
    gen_args=(--packets 4000 --flows 40 --rate 100)
    extra_sets=(--set meter.idle_timeout_s=1)
    min_records=200
    ;;
  two-way)
    # Responders answer: without biflow each direction is a flow of its own.
    gen_args=(--packets 30000 --flows 1000 --reverse 0.4 --ipv6 0.3 --sizes imix --tcp-syn-fin)
    ;;
  biflow)
    gen_args=(--packets 30000 --flows 1000 --reverse 0.4 --ipv6 0.3 --vlan 0.2 --sizes imix)
    extra_sets=(--set meter.biflow=true)
    check_args=(--biflow)
    ;;
  *) die "unknown scenario $scenario" ;;
esac

"$GEN" --out "$WORK/in.pcap" --manifest "$WORK/manifest.csv" --seed 11 "${gen_args[@]}"
packets=$(awk -F, 'NR > 1 { n += $8 + $10 } END { print n }' "$WORK/manifest.csv")

timeout 120 "$POOLFLOWD" --pcap "$WORK/in.pcap" --output "file:$WORK/out.ipfix" \
  "${extra_sets[@]}" >"$WORK/summary.txt" 2>"$WORK/log.txt" || {
  cat "$WORK/log.txt" >&2
  die "poolflowd exit $?"
}
cat "$WORK/summary.txt"
expect_line "$WORK/summary.txt" "packets received +$packets "
expect_line "$WORK/summary.txt" "ring drops 0"
$CHECK_IPFIX --ipfix "$WORK/out.ipfix" --manifest "$WORK/manifest.csv" --min-records "$min_records" \
  "${check_args[@]}"
