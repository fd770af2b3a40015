#!/usr/bin/env bash
# Builds a libFuzzer target with clang (ASan, UBSan) and runs it for a bounded
# time from a seed corpus:
#   packet_parser  the metering parser, seeded with a few real frames
#   ipfix_decoder  the collector's IPFIX decoder, seeded with a file poolflowd wrote
#   pcap_player    the capture playback of --pcap, seeded with a classic pcap and a pcapng
#   rserpool       the ASAP/ENRP codec and the registrar, seeded with RFC-format messages
#   tests/fuzz/run.sh TARGET BUILD_DIR [SECONDS]      default 20 s
set -euo pipefail
cd "$(dirname "$0")/../.."
target=${1:?usage: $0 TARGET BUILD_DIR [SECONDS]}
build=$(cd "${2:?usage: $0 TARGET BUILD_DIR [SECONDS]}" && pwd)
seconds=${3:-20}
out=$build/fuzz/$target
mkdir -p "$out/corpus"

flags=(-std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
       -Iinclude -Isrc)
seed() { printf "$2" >"$out/corpus/$1"; }
case $target in
  packet_parser)
    clang++ "${flags[@]}" tests/fuzz/packet_parser_fuzz.cc -o "$out/fuzz"
    # The first byte is the target's frame-length byte, then an Ethernet frame.
    seed ipv4_tcp '\x00\x02\0\0\0\0\x01\x02\0\0\0\0\x01\x08\x00\x45\x00\x00\x28\0\x01\0\0\x40\x06\0\0\x0a\0\0\x01\xc0\xa8\x01\x02\x04\xd2\x00\x50\0\0\0\0\0\0\0\0\x50\x10\xff\xff\0\0\0\0'
    seed vlan_ipv6_udp '\x00\x02\0\0\0\0\x01\x02\0\0\0\0\x01\x81\x00\x00\x64\x86\xdd\x60\0\0\0\x00\x08\x11\x40\xfd\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01\xfd\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x02\x13\x88\x00\x35\x00\x08\0\0'
    seed mpls_ipv4_icmp '\x00\x02\0\0\0\0\x01\x02\0\0\0\0\x01\x88\x47\x00\x01\x01\x40\x45\x00\x00\x1c\0\x01\0\0\x40\x01\0\0\x0a\0\0\x01\x0a\0\0\x02\x08\x00\xf7\xff\0\0\0\0'
    max_len=2048
    ;;
  ipfix_decoder)
    clang++ "${flags[@]}" tests/fuzz/ipfix_decoder_fuzz.cc src/ipfix/message_reader.cc \
      src/ipfix/element_registry.cc src/collector/jsonl_output.cc \
      $(pkg-config --cflags --libs fmt) -o "$out/fuzz"
    # An IPFIX file as poolflowd writes it (templates, IPv4 and IPv6 data).
    if [[ ! -s $out/corpus/flows.ipfix ]]; then
      "$build/perf/poolflow-gen" --out "$out/seed.pcap" --packets 200 --flows 20 --ipv6 0.5 \
        >/dev/null
      "$build/src/poolflowd" --pcap "$out/seed.pcap" --output "file:$out/corpus/flows.ipfix" \
        >/dev/null 2>&1
      rm "$out/seed.pcap"
    fi
    max_len=4096
    ;;
  pcap_player)
    # DPDK's headers use volatile increments that C++20 deprecates.
    clang++ "${flags[@]}" -Idrivers -Wno-deprecated-volatile tests/fuzz/pcap_player_fuzz.cc \
      drivers/net/pcap_player.cc $(pkg-config --cflags --libs libdpdk fmt spdlog libpcap) \
      -o "$out/fuzz"
    if [[ ! -s $out/corpus/seed.pcap ]]; then
      "$build/perf/poolflow-gen" --out "$out/corpus/seed.pcap" --packets 20 --flows 5 \
        --sizes imix >/dev/null
      editcap -F pcapng "$out/corpus/seed.pcap" "$out/corpus/seed.pcapng"
    fi
    max_len=16384
    ;;
  rserpool)
    clang++ "${flags[@]}" tests/fuzz/rserpool_fuzz.cc src/rserpool/codec.cc src/rserpool/selection.cc \
      src/rserpool/registrar.cc $(pkg-config --cflags --libs fmt spdlog) -o "$out/fuzz"
    # REGISTRATION, HANDLE_RESOLUTION with rsplib's option, ENRP PRESENCE.
    seed registration '\x01\x00\x00\x40\x00\x09\x00\x09Echo5\0\0\0\x00\x0a\x00\x30\xab\xcd\xef\x01\0\0\0\0\0\0\x75\x30\x00\x04\x00\x10\x00\x07\x00\x00\x00\x01\x00\x08\x7f\x00\x00\x01\x00\x08\x00\x10\x40\x00\x00\x02\x80\0\0\0\x01\0\0\0'
    seed resolution '\x05\x00\x00\x18\x00\x09\x00\x0cEchoPool\x80\x3f\x00\x08\x00\x00\x00\x03'
    seed presence '\x01\x01\x00\x2c\x11\x11\x11\x11\0\0\0\0\x00\x0f\x00\x06\xbe\xef\0\0\x00\x0b\x00\x18\x11\x11\x11\x11\x00\x04\x00\x10\x26\xad\x00\x00\x00\x01\x00\x08\x0a\x00\x00\x01'
    max_len=4096
    ;;
  *) echo "run.sh: unknown target $target (packet_parser, ipfix_decoder, pcap_player, rserpool)" >&2; exit 2 ;;
esac
"$out/fuzz" -max_total_time="$seconds" -max_len="$max_len" -print_final_stats=1 \
  -artifact_prefix="$out/" "$out/corpus" 2>&1 | tail -n 12
