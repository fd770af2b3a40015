#!/usr/bin/env bash
# Malformed packets are counted by reason and skipped; the worker goes on and
# the valid packets around them are metered and exported; the Metering Process
# Reliability record (RFC 7011 §4.2) in the file tells the collector how many
# packets and octets were not metered, and when the first and the last of them
# were ignored (observationTimeMilliseconds twice, within the run).
source "$(dirname "$0")/common.sh"

expected=$(/usr/bin/python3 "$HERE/make_malformed_pcap.py" "$WORK/mixed.pcap")
started_ms=$(date +%s%3N)
timeout -k 10 60 "$POOLFLOWD" --pcap "$WORK/mixed.pcap" --output "file:$WORK/out.ipfix" \
  >"$WORK/summary.txt" 2>"$WORK/log.txt" || { cat "$WORK/log.txt" >&2; die "poolflowd failed"; }
ended_ms=$(date +%s%3N)
cat "$WORK/summary.txt"

/usr/bin/python3 - "$expected" "$WORK/summary.txt" <<'PY'
import json, re, sys
expected = json.loads(sys.argv[1])
summary = open(sys.argv[2]).read()
ignored_line = re.search(r"packets ignored +(\d+) \((.*)\)", summary)
counts = dict((k, int(v)) for k, v in re.findall(r"(\w+) (\d+)", ignored_line.group(2)))
assert counts == expected["ignored"], f"ignored by reason {counts} != {expected['ignored']}"
assert int(ignored_line.group(1)) == sum(expected["ignored"].values())
parsed = int(re.search(r"packets parsed +(\d+)", summary).group(1))
assert parsed == expected["valid"], f"parsed {parsed} != {expected['valid']}"
assert re.search(rf"flows created +{expected['valid_flows']}\n", summary), "flow count"
print("malformed packets: counted by reason as expected:", counts)
PY
ipfixDump -i "$WORK/out.ipfix" >"$WORK/dump.txt"
[[ $(grep -c "(136) *flowEndReason" "$WORK/dump.txt") -eq 3 ]] || die "not 3 flow records"
ignored=$(/usr/bin/python3 -c 'import json, sys; e = json.loads(sys.argv[1]); print(sum(e["ignored"].values()), e["ignored_octets"])' "$expected")
expect_line "$WORK/dump.txt" "ignoredPacketTotalCount : ${ignored% *}$"
expect_line "$WORK/dump.txt" "ignoredOctetTotalCount : ${ignored#* }$"
# Time first and last packet ignored: in that order, both while poolflowd ran.
/usr/bin/python3 - "$WORK/dump.txt" "$started_ms" "$ended_ms" <<'PY'
import datetime, re, sys
dump = open(sys.argv[1]).read()
started, ended = int(sys.argv[2]), int(sys.argv[3])
records = re.findall(r"ignoredOctetTotalCount : \d+\n((?:.*observationTimeMilliseconds : .*\n){2})", dump)
assert records, "no Metering Process Reliability record with two observationTimeMilliseconds"
for record in records:
    first, last = (
        round(datetime.datetime.strptime(t, "%Y-%m-%d %H:%M:%S.%f")
              .replace(tzinfo=datetime.timezone.utc).timestamp() * 1000)
        for t in re.findall(r"observationTimeMilliseconds : (.*)", record))
    assert started <= first <= last <= ended, f"ignored from {first} to {last}, ran {started}-{ended}"
print(f"packets ignored from {first} to {last} ms, poolflowd ran from {started} to {ended} ms")
PY
