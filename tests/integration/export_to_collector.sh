#!/usr/bin/env bash
# poolflowd → poolflow-collector over a real transport on 127.0.0.1, two processes:
# the collector's files decoded by ipfixDump and tshark equal poolflow-gen's
# manifest, its JSON lines add up to the same totals, and it counts no loss and
# no bad input. Over SCTP, tshark also decodes a capture of the association
# (SCTP over UDP 9899) as IPFIX: no malformed packets, PR-SCTP negotiated in
# INIT and INIT-ACK, templates on the streams of their data (RFC 6526).
# sctp-raw: SCTP directly over IP in both processes (root only; skipped otherwise).
# sctp-1stream: the collector grants one stream: everything goes on stream 0, with
# one sequence of numbers (before, numbers of three streams mixed: bogus loss).
# tcp-rotate: the collector rotates its files every MiB; each file starts with the
# templates, numbered so that the files together are one valid stream.
#   export_to_collector.sh BUILD_DIR SCENARIO
#   (sctp, sctp-stream0, sctp-raw, sctp-1stream, tcp, tcp-rotate, udp)
source "$(dirname "$0")/common.sh"
scenario=${2:?scenario}
COLLECTOR=$BUILD/src/poolflow-collector

exporter_sets=()
collector_sets=()
flows=2000
case $scenario in
  sctp) kind=sctp port=47410 ;;
  sctp-stream0)
    kind=sctp port=47411
    exporter_sets=(--set export.templates_on_stream_zero=true --set 'export.other_flows="ttl:2000"')
    ;;
  sctp-raw)
    [[ $(id -u) -eq 0 ]] || exit 77  # meson: skipped
    kind=sctp port=47414
    exporter_sets=(--set sctp.raw_ip=true)
    collector_sets=(--set sctp.raw_ip=true)
    ;;
  sctp-1stream) kind=sctp port=47416 collector_sets=(--set sctp.streams=1) ;;
  tcp) kind=tcp port=47412 ;;
  tcp-rotate) kind=tcp port=47415 flows=40000 collector_sets=(--set write.file_rotate_mib=1) ;;
  udp) kind=udp port=47413 exporter_sets=(--set udp.template_refresh_messages=5) ;;
  *) die "unknown scenario $scenario" ;;
esac

# stop PID SECONDS: SIGINT, then wait at most SECONDS for it to exit.
stop() {
  kill -INT "$1" 2>/dev/null || true
  timeout "$2" tail --pid="$1" -f /dev/null || { kill -KILL "$1"; die "pid $1 ignored SIGINT"; }
  wait "$1" 2>/dev/null || true
}

"$GEN" --out "$WORK/in.pcap" --manifest "$WORK/manifest.csv" --seed 5 \
  --packets 50000 --flows "$flows" --ipv6 0.4 --vlan 0.3 --sizes imix --tcp-syn-fin
mkdir "$WORK/files"

"$COLLECTOR" --listen "$kind:127.0.0.1:$port" --write "file:$WORK/files" \
  --write "jsonl:$WORK/records.jsonl" "${collector_sets[@]}" >"$WORK/collector.txt" 2>"$WORK/collector.log" &
collector=$!
trap 'kill -KILL $collector ${capture:-} 2>/dev/null || true; rm -rf "$WORK"' EXIT
wait_for "$WORK/collector.log" "listening on $kind 127.0.0.1:$port" 10
capture_sctp=$([[ $scenario == sctp || $scenario == sctp-stream0 ]] && echo 1 || true)
if [[ $scenario == sctp-raw ]]; then
  expect_line "$WORK/collector.log" "listening on sctp 127.0.0.1:$port \(raw IP\)"
fi
if [[ -n $capture_sctp ]]; then
  expect_line "$WORK/collector.log" "listening on sctp 127.0.0.1:$port \(UDP encapsulation 9899\)"
  timeout 120 tshark -i lo -f 'udp port 9899' -w "$WORK/lo.pcapng" >/dev/null 2>"$WORK/tshark.log" &
  capture=$!
  wait_for "$WORK/tshark.log" "Capture started" 20
fi

timeout -k 10 120 "$POOLFLOWD" --pcap "$WORK/in.pcap" --output "$kind:127.0.0.1:$port" \
  "${exporter_sets[@]}" >"$WORK/summary.txt" 2>"$WORK/log.txt" || {
  cat "$WORK/log.txt" >&2
  die "poolflowd failed"
}
cat "$WORK/summary.txt"
records=$(grep -oP "exported to $kind:127.0.0.1:$port: \K\d+(?= records)" "$WORK/summary.txt")
expect_line "$WORK/summary.txt" "0 messages not sent \(0 records"
if [[ $scenario == sctp-1stream ]]; then
  expect_line "$WORK/log.txt" "1 outbound stream\(s\): data of both classes on stream 0"
fi

# The collector has everything once its statistics say so (SIGUSR1), or gives up.
for _ in $(seq 100); do
  kill -USR1 "$collector"
  sleep 0.1
  grep -q "total: .* records $records," "$WORK/collector.txt" && break
done
if [[ -n ${capture:-} ]]; then
  sleep 1  # dumpcap hands packets over in intervals: give it the last ones
  stop "$capture" 20
fi
stop "$collector" 20
cat "$WORK/collector.log" "$WORK/collector.txt"
total=$(grep "total:" "$WORK/collector.txt" | tail -n 1)
[[ $total == *" records $records, lost 0 in 0 gaps, out of order 0, discarded messages 0,"* ]] ||
  die "collector totals: $total (exporter sent $records records)"
[[ $total == *"errors: none" ]] || die "collector counted bad input: $total"

# RFC 5655 files, each starting with templates: together they are one valid stream.
files=("$WORK"/files/*.ipfix)
if [[ $scenario == tcp-rotate ]]; then
  ((${#files[@]} >= 2)) || die "${#files[@]} file(s): the collector did not rotate"
  for f in "${files[@]}"; do ipfixDump -i "$f" >/dev/null || die "ipfixDump cannot read $f alone"; done
  echo "${#files[@]} files, each decodes alone"
fi
cat "${files[@]}" >"$WORK/all.ipfix"
sequence=()
[[ $kind == sctp ]] && sequence=(--no-sequence-check)  # several streams interleave
$CHECK_IPFIX --ipfix "$WORK/all.ipfix" --manifest "$WORK/manifest.csv" "${sequence[@]}"

/usr/bin/python3 - "$WORK/records.jsonl" "$WORK/manifest.csv" "$records" "$kind" <<'PY'
import csv, json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
options = [l for l in lines if "dataRecordsReliability" in l]
lines = [l for l in lines if "packetDeltaCount" in l]
manifest = list(csv.DictReader(open(sys.argv[2])))
assert len(lines) == int(sys.argv[3]), f"{len(lines)} JSON lines, {sys.argv[3]} records sent"
for field, column in (("packetDeltaCount", "packets"), ("octetDeltaCount", "octets")):
    got, want = sum(l[field] for l in lines), sum(int(r[column]) for r in manifest)
    assert got == want, f"JSON lines {field} {got} != manifest {want}"
announced = sorted((o["templateId"], o["dataRecordsReliability"]) for o in options)
# Over SCTP: TCP flows (templates 256-259: IPv4, IPv6 and their biflow forms)
# reliable, the others (260-263) partial.
want = [(t, t < 260) for t in range(256, 264)] if sys.argv[4] == "sctp" else []
assert announced == want, f"dataRecordsReliability {announced}, expected {want}"
print(f"jsonl: {len(lines)} records, totals equal the manifest; reliability announced: "
      f"{sorted((o['templateId'], o['dataRecordsReliability']) for o in options)}")
PY

if [[ -n $capture_sctp ]]; then
  # Not port 4739: tell tshark that this SCTP port carries IPFIX.
  tshark() { command tshark -d "sctp.port==$port,cflow" "$@" 2>/dev/null; }
  bad=$(tshark -r "$WORK/lo.pcapng" -Y '_ws.malformed || _ws.expert.severity >= 8388608' | wc -l)
  [[ $bad -eq 0 ]] || die "tshark: $bad malformed or erroneous packets in the capture"
  packets=$(tshark -r "$WORK/lo.pcapng" -T fields -E occurrence=a -e cflow.packets |
    tr ',' '\n' | awk '{ n += $1 } END { print n + 0 }')
  want=$(awk -F, 'NR > 1 { n += $8 } END { print n }' "$WORK/manifest.csv")
  [[ $packets -eq $want ]] || die "tshark decodes $packets packets in the capture, manifest $want"
  # Forward-TSN-Supported (0xc000) in INIT (chunk 1) and INIT-ACK (chunk 2): PR-SCTP negotiated.
  for chunk in 1 2; do
    tshark -r "$WORK/lo.pcapng" -Y "sctp.chunk_type == $chunk" -T fields -e sctp.parameter_type |
      grep -q 0xc000 || die "no Forward-TSN-Supported parameter in SCTP chunk type $chunk"
  done
  template_streams=$(tshark -r "$WORK/lo.pcapng" -Y cflow.template_id -T fields -e sctp.data_sid |
    tr ',' '\n' | sort -u | xargs)
  data_streams=$(tshark -r "$WORK/lo.pcapng" -Y 'cflow.flowset_id >= 256' -T fields \
    -e sctp.data_sid | tr ',' '\n' | sort -u | xargs)
  if [[ $scenario == sctp-stream0 ]]; then
    [[ $template_streams == 0x0000 ]] || die "templates on streams '$template_streams', not 0"
  else
    [[ $template_streams == "$data_streams" ]] ||
      die "templates on streams '$template_streams', data on '$data_streams' (RFC 6526)"
  fi
  echo "tshark: capture decodes as IPFIX, $packets packets, PR-SCTP negotiated," \
    "templates on streams $template_streams, data on $data_streams"
fi
echo "export over $scenario: $records records, collector totals equal the manifest"
