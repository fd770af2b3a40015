#!/usr/bin/env bash
# Bad configurations are refused before EAL starts: exit code 2 and one line
# naming the source, the key and what is wrong.
source "$(dirname "$0")/common.sh"

"$GEN" --out "$WORK/ok.pcap" --packets 10 --flows 2 >/dev/null
echo "not a capture" >"$WORK/garbage.pcap"
run_ok=(--pcap "$WORK/ok.pcap" --output "file:$WORK/out.ipfix")

# refused EXPECTED_STDERR_REGEX ARGS...: poolflowd exits 2 naming the problem.
refused() {
  local pattern=$1
  shift
  local rc=0
  timeout 20 "$POOLFLOWD" "$@" >"$WORK/out.txt" 2>"$WORK/err.txt" || rc=$?
  [[ $rc -eq 2 ]] || { cat "$WORK/err.txt" >&2; die "exit $rc, expected 2, for: $*"; }
  [[ $(wc -l <"$WORK/err.txt") -eq 1 ]] || { cat "$WORK/err.txt" >&2; die "not one line for: $*"; }
  grep -Eq -- "$pattern" "$WORK/err.txt" || { cat "$WORK/err.txt" >&2; die "no '$pattern' for: $*"; }
  grep -q "EAL" "$WORK/err.txt" "$WORK/out.txt" && die "EAL started for: $*"
  echo "refused as expected: $(cat "$WORK/err.txt")"
}

printf '[meter]\nidle_timeout = 5\n' >"$WORK/unknown.toml"
refused "unknown.toml: meter.idle_timeout: unknown key" -c "$WORK/unknown.toml" "${run_ok[@]}"
printf '[meter]\nidle_timeout_s = "5"\n' >"$WORK/type.toml"
refused "type.toml: meter.idle_timeout_s: expected an integer, got a string" -c "$WORK/type.toml" "${run_ok[@]}"
printf '[cpu]\nworker_cores = []\n' >"$WORK/noworker.toml"
refused "noworker.toml: cpu.worker_cores: no worker core" -c "$WORK/noworker.toml" "${run_ok[@]}"
printf '[cpu]\naggregator_core = 1\nworker_cores = [1]\n' >"$WORK/samecore.toml"
refused "samecore.toml: cpu.aggregator_core: core 1 is also a worker core" -c "$WORK/samecore.toml" "${run_ok[@]}"
printf '[meter\n' >"$WORK/syntax.toml"
refused "syntax.toml:1:" -c "$WORK/syntax.toml" "${run_ok[@]}"
refused "command line: input.pcaps: .*missing.pcap: No such file" --pcap "$WORK/missing.pcap" --output "file:$WORK/o"
refused "input.pcaps: .*garbage.pcap" --pcap "$WORK/garbage.pcap" --output "file:$WORK/o"
refused "command line: export.outputs: unknown output kind" --pcap "$WORK/ok.pcap" --output "ftp:x"
refused "export.outputs: no output" --pcap "$WORK/ok.pcap"
refused "export.outputs: .*/no/such/dir/x.ipfix: No such file" --pcap "$WORK/ok.pcap" --output "file:/no/such/dir/x.ipfix"
refused "command line: meter.flow_table_size: must be between" "${run_ok[@]}" --set meter.flow_table_size=0
refused "command line: --set bogus: expected section.key=value" "${run_ok[@]}" --set bogus
refused "nonexistent.toml" -c "$WORK/nonexistent.toml" "${run_ok[@]}"
refused "input.devices: no input" --output "file:$WORK/o"
refused "" --no-such-flag

# The shipped conf file is valid as it stands once an input and output are named.
"$POOLFLOWD" -c "$HERE/../../conf/poolflowd.toml" "${run_ok[@]}" --check-conf

# A UDP encapsulation port another process holds: usrsctp would run deaf on it
# and say nothing; the collector refuses to start instead.
python3 -c 'import socket, time; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", 39799)); time.sleep(20)' &
holder=$!
for _ in $(seq 100); do ss -uan | grep -q ":39799 " && break; sleep 0.1; done
rc=0
timeout 10 "$BUILD/src/poolflow-collector" --listen sctp:127.0.0.1:47799 \
  --set sctp.udp_encaps_port=39799 >/dev/null 2>"$WORK/collector.err" || rc=$?
kill "$holder"
cat "$WORK/collector.err"
[[ $rc -ne 0 && $rc -ne 124 ]] || die "collector exit $rc on a UDP encapsulation port in use"
grep -q "UDP encapsulation port 39799 is already in use" "$WORK/collector.err" ||
  die "no clear error for a UDP encapsulation port in use"
