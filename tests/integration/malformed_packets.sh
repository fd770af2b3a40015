#!/usr/bin/env bash
# Malformed packets are counted by reason and skipped; the worker goes on and
# the valid packets around them are metered and exported; the Metering Process
# Reliability record (RFC 7011 §4.2) in the file tells the collector how many
# packets and octets were not metered, and when the first and the last of them
# were ignored (observationTimeMilliseconds twice: their capture times).
source "$(dirname "$0")/common.sh"

expected=$(/usr/bin/python3 "$HERE/make_malformed_pcap.py" "$WORK/mixed.pcap")
timeout -k 10 60 "$POOLFLOWD" --pcap "$WORK/mixed.pcap" --output "file:$WORK/out.ipfix" \
  >"$WORK/summary.txt" 2>"$WORK/log.txt" || { cat "$WORK/log.txt" >&2; die "poolflowd failed"; }
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
# Time first and last packet ignored: the capture times of those packets.
/usr/bin/python3 - "$WORK/dump.txt" "$expected" <<'PY'
import datetime, json, re, sys
dump = open(sys.argv[1]).read()
expected = json.loads(sys.argv[2])
want = (expected["first_ignored_ms"], expected["last_ignored_ms"])
records = re.findall(r"ignoredOctetTotalCount : \d+\n((?:.*observationTimeMilliseconds : .*\n){2})", dump)
assert records, "no Metering Process Reliability record with two observationTimeMilliseconds"
for record in records:  # periodic records may have seen part of them; the last saw all
    first, last = (
        round(datetime.datetime.strptime(t, "%Y-%m-%d %H:%M:%S.%f")
              .replace(tzinfo=datetime.timezone.utc).timestamp() * 1000)
        for t in re.findall(r"observationTimeMilliseconds : (.*)", record))
    assert want[0] <= first <= last <= want[1], f"ignored from {first} to {last}, captured {want}"
assert (first, last) == want, f"last record: ignored from {first} to {last}, captured {want}"
print(f"packets ignored from {first} to {last} ms, as captured")
PY
