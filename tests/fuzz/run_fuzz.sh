#!/usr/bin/env bash
# Builds the packet-parser fuzz target with clang (libFuzzer, ASan, UBSan) and
# runs it for a bounded time from a small seed corpus of real frames.
#   run_fuzz.sh WORK_DIR [SECONDS]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=${1:?usage: $0 WORK_DIR [SECONDS]}
seconds=${2:-20}
mkdir -p "$work/corpus"

clang++ -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I "$root/include" -I "$root/src" "$here/packet_parser_fuzz.cc" -o "$work/packet_parser_fuzz"

# Seeds: the first byte is the fuzzer's frame-length byte, then an Ethernet frame.
seed() { printf "$2" >"$work/corpus/$1"; }
seed ipv4_tcp '\x00\x02\0\0\0\0\x01\x02\0\0\0\0\x01\x08\x00\x45\x00\x00\x28\0\x01\0\0\x40\x06\0\0\x0a\0\0\x01\xc0\xa8\x01\x02\x04\xd2\x00\x50\0\0\0\0\0\0\0\0\x50\x10\xff\xff\0\0\0\0'
seed vlan_ipv6_udp '\x00\x02\0\0\0\0\x01\x02\0\0\0\0\x01\x81\x00\x00\x64\x86\xdd\x60\0\0\0\x00\x08\x11\x40\xfd\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01\xfd\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x02\x13\x88\x00\x35\x00\x08\0\0'
seed mpls_ipv4_icmp '\x00\x02\0\0\0\0\x01\x02\0\0\0\0\x01\x88\x47\x00\x01\x01\x40\x45\x00\x00\x1c\0\x01\0\0\x40\x01\0\0\x0a\0\0\x01\x0a\0\0\x02\x08\x00\xf7\xff\0\0\0\0'

"$work/packet_parser_fuzz" -max_total_time="$seconds" -max_len=2048 -print_final_stats=1 \
  "$work/corpus" 2>&1 | tail -n 12
