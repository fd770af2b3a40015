#!/usr/bin/env bash
# End to end: poolflow-gen → pcap → poolflowd --pcap (played back into mbufs) → IPFIX
# file, checked by ipfixDump and tshark against the generator's manifest.
#   pcap_to_file.sh BUILD_DIR SCENARIO
#   (ipv4, ipv6, vlan, mixed, idle-split, two-way, biflow, pcapng, truncated)
source "$(dirname "$0")/common.sh"
scenario=${2:?scenario}

min_records=0
input=$WORK/in.pcap
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
  pcapng)
    # Converted by Wireshark's editcap: read through libpcap, not from the mapping.
    gen_args=(--packets 20000 --flows 500 --ipv6 0.4 --vlan 0.3 --sizes imix)
    input=$WORK/in.pcapng
    ;;
  truncated)
    # The capture ends mid-packet (a killed tcpdump): the packets before that
    # one are metered, the playback stops there with an error in the log.
    gen_args=(--packets 20000 --flows 1 --sizes 64)
    ;;
  *) die "unknown scenario $scenario" ;;
esac

"$GEN" --out "$WORK/in.pcap" --manifest "$WORK/manifest.csv" --seed 11 "${gen_args[@]}"
packets=$(awk -F, 'NR > 1 { n += $8 + $10 } END { print n }' "$WORK/manifest.csv")
case $scenario in
  pcapng) editcap -F pcapng "$WORK/in.pcap" "$input" ;;
  truncated)
    truncate -s -10 "$input"
    packets=$((packets - 1))
    # The manifest's one flow loses its last packet and its 46 IP octets.
    awk -F, -v OFS=, 'NR > 1 { $8 -= 1; $9 -= 46 } { print }' "$WORK/manifest.csv" >"$WORK/m.csv"
    mv "$WORK/m.csv" "$WORK/manifest.csv"
    ;;
esac

rc=0
timeout -k 10 120 "$POOLFLOWD" --pcap "$input" --output "file:$WORK/out.ipfix" \
  "${extra_sets[@]}" >"$WORK/summary.txt" 2>"$WORK/log.txt" || rc=$?
# A damaged capture is exported up to the damage, and the exit status says so.
want_rc=0
[[ $scenario == truncated ]] && want_rc=1
[[ $rc -eq $want_rc ]] || { cat "$WORK/log.txt" >&2; die "poolflowd exit $rc, not $want_rc"; }
cat "$WORK/summary.txt"
case $scenario in
  pcapng) expect_line "$WORK/log.txt" "in.pcapng: played as ingress port 0 by one worker \\(read through libpcap\\)" ;;
  truncated)
    expect_line "$WORK/log.txt" "in.pcap: damaged record at byte [0-9]+ \\(after packet $packets\\): the playback ends there"
    expect_line "$WORK/summary.txt" "played back +.*in.pcap: $packets packets \\(0 cut by the snap length\\); ended at a damaged record"
    ;;
  *) expect_line "$WORK/log.txt" "in.pcap: played as ingress port 0 by one worker \\(classic pcap" ;;
esac
expect_line "$WORK/summary.txt" "packets received +$packets "
expect_line "$WORK/summary.txt" "ring drops 0"
$CHECK_IPFIX --ipfix "$WORK/out.ipfix" --manifest "$WORK/manifest.csv" --min-records "$min_records" \
  "${check_args[@]}"
