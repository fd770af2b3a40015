#!/usr/bin/env bash
# Builds the IPFIX decoder fuzz target with clang (libFuzzer, ASan, UBSan) and
# runs it for a while from a seed corpus of real poolflow messages.
#   tests/fuzz/run.sh BUILD_DIR [SECONDS]      default 20 s
set -euo pipefail
cd "$(dirname "$0")/../.."
build=$(cd "${1:?usage: $0 BUILD_DIR [SECONDS]}" && pwd)
seconds=${2:-20}
out=$build/fuzz
mkdir -p "$out/corpus"

clang++ -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -Iinclude -Isrc tests/fuzz/ipfix_decoder_fuzz.cc src/ipfix/message_reader.cc \
  src/ipfix/element_registry.cc src/collector/jsonl_output.cc \
  $(pkg-config --cflags --libs fmt) -o "$out/ipfix_decoder_fuzz"

# Seeds: an IPFIX file as poolflowd writes it (templates, IPv4 and IPv6 data).
if [[ -z $(ls -A "$out/corpus") ]]; then
  "$build/perf/poolflow-gen" --out "$out/seed.pcap" --packets 200 --flows 20 --ipv6 0.5 \
    >/dev/null
  "$build/src/poolflowd" --pcap "$out/seed.pcap" --output "file:$out/corpus/flows.ipfix" \
    >/dev/null 2>&1
  rm "$out/seed.pcap"
fi
"$out/ipfix_decoder_fuzz" -max_total_time="$seconds" -max_len=4096 -print_final_stats=1 \
  -artifact_prefix="$out/" "$out/corpus" 2>&1 | tail -n 12
