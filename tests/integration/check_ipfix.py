#!/usr/bin/python3
"""Checks an IPFIX file with decoders no one here wrote (libfixbuf's ipfixDump,
tshark) against poolflow-gen's manifest: every flow's packet and octet totals
(uniflows: each direction its own flow; --biflow: RFC 5103 records keyed from
the initiator with reverse counters), the grand totals, RFC 7011 sequence
numbers and the absence of malformed packets. Exits non-zero with a reason on
the first disagreement."""

import argparse
import collections
import csv
import ipaddress
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
from ipfix_summary import read_ipfixdump  # noqa: E402

ICMP = {1, 58}


def fail(message):
    print(f"check_ipfix: FAIL: {message}", file=sys.stderr)
    sys.exit(1)


def flow_key(ip_version, src, dst, protocol, src_port, dst_port, vlan):
    return (int(ip_version), ipaddress.ip_address(src), ipaddress.ip_address(dst), int(protocol),
            int(src_port), int(dst_port), int(vlan))


def record_key(r):
    v6 = "sourceIPv6Address" in r
    protocol = int(r["protocolIdentifier"])
    if protocol in ICMP:  # poolflow-gen's manifest keeps type/code in the destination port
        ports = (0, int(r["icmpTypeCodeIPv6" if v6 else "icmpTypeCodeIPv4"]))
    else:
        ports = (int(r["sourceTransportPort"]), int(r["destinationTransportPort"]))
    return flow_key(6 if v6 else 4,
                    r["sourceIPv6Address" if v6 else "sourceIPv4Address"],
                    r["destinationIPv6Address" if v6 else "destinationIPv4Address"],
                    protocol, *ports, r["vlanId"])


def tshark_totals(path):
    """Sum of packets and octets over every record, and the malformed/error count."""
    bad = subprocess.run(["tshark", "-r", path, "-Y", "_ws.malformed || _ws.expert.severity >= 8388608"],
                         capture_output=True, text=True)
    if bad.returncode != 0:
        fail(f"tshark exit {bad.returncode}: {bad.stderr.strip()}")
    problems = [l for l in bad.stdout.splitlines() if l.strip()]
    run = subprocess.run(["tshark", "-r", path, "-T", "fields", "-E", "occurrence=a",
                          "-e", "cflow.packets", "-e", "cflow.octets"],
                         capture_output=True, text=True)
    if run.returncode != 0:
        fail(f"tshark exit {run.returncode}: {run.stderr.strip()}")
    packets = octets = 0
    for line in run.stdout.splitlines():
        cols = line.split("\t")
        packets += sum(int(x) for x in cols[0].split(",") if x)
        octets += sum(int(x) for x in cols[1].split(",") if x)
    return packets, octets, problems


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--ipfix", required=True)
    ap.add_argument("--manifest", required=True)
    ap.add_argument("--min-records", type=int, default=0,
                    help="at least this many records (flows split by timeouts)")
    ap.add_argument("--no-sequence-check", action="store_true",
                    help="messages of several SCTP streams or sessions are interleaved: their "
                         "sequence numbers are checked by the collector instead")
    ap.add_argument("--biflow", action="store_true", help="records are RFC 5103 biflows")
    ap.add_argument("--lossy-protocol", type=int, action="append", default=[],
                    help="flows of this IP protocol were exported best-effort: they may be "
                         "missing (counted and printed), but those present must be exact")
    args = ap.parse_args()

    expected = {}
    want_packets = want_octets = 0
    with open(args.manifest) as f:
        for row in csv.DictReader(f):
            key = flow_key(row["ip_version"], row["src"], row["dst"], row["protocol"],
                           row["src_port"], row["dst_port"], row["vlan"])
            forward = (int(row["packets"]), int(row["octets"]))
            reverse = (int(row.get("reverse_packets") or 0), int(row.get("reverse_octets") or 0))
            want_packets += forward[0] + reverse[0]
            want_octets += forward[1] + reverse[1]
            if args.biflow:
                expected[key] = forward + reverse
                continue
            expected[key] = forward
            if reverse[0]:  # the responder's packets are a flow of their own
                version, src, dst, protocol, src_port, dst_port, vlan = key
                ports = (src_port, dst_port) if protocol in ICMP else (dst_port, src_port)
                expected[(version, dst, src, protocol, *ports, vlan)] = reverse

    try:
        records, messages = read_ipfixdump(args.ipfix)
    except RuntimeError as e:
        fail(str(e))
    # Options records (dataRecordsReliability over SCTP) describe templates, not flows.
    records = [r for r in records if "packetDeltaCount" in r]
    seen = collections.defaultdict(lambda: [0, 0, 0, 0] if args.biflow else [0, 0])
    for r in records:
        totals = seen[record_key(r)]
        totals[0] += int(r["packetDeltaCount"])
        totals[1] += int(r["octetDeltaCount"])
        if args.biflow:
            if "reversePacketDeltaCount" not in r:
                fail(f"a uniflow record where biflows are expected: {r}")
            totals[2] += int(r["reversePacketDeltaCount"])
            totals[3] += int(r["reverseOctetDeltaCount"])

    missing = [k for k in expected if k not in seen]
    lossy = [k for k in missing if k[3] in args.lossy_protocol]
    missing = [k for k in missing if k[3] not in args.lossy_protocol]
    for k in lossy:  # the totals are those of the flows that arrived
        want_packets -= sum(expected[k][0::2])
        want_octets -= sum(expected[k][1::2])
    extra = [k for k in seen if k not in expected]
    wrong = [k for k in expected if k in seen and tuple(seen[k]) != expected[k]]
    # A best-effort flow split in several records (timeouts) may lose some of them.
    partial = [k for k in wrong if k[3] in args.lossy_protocol
               and all(got <= want for got, want in zip(seen[k], expected[k]))]
    wrong = [k for k in wrong if k not in partial]
    for k in partial:
        want_packets -= sum(expected[k][0::2]) - sum(seen[k][0::2])
        want_octets -= sum(expected[k][1::2]) - sum(seen[k][1::2])
    if missing or extra or wrong:
        fail(f"{len(missing)} flows missing, {len(extra)} unexpected, {len(wrong)} with other "
             f"totals; e.g. missing {missing[:1]} extra {extra[:1]} "
             f"wrong {[(k, seen[k], expected[k]) for k in wrong[:1]]}")

    if len(records) < args.min_records:
        fail(f"{len(records)} records, expected at least {args.min_records}")

    sent = 0
    for sequence, count in [] if args.no_sequence_check else messages:
        if sequence != sent % 2**32:
            fail(f"sequence number {sequence}, expected {sent} (RFC 7011 §3.1)")
        sent += count

    packets, octets, problems = tshark_totals(args.ipfix)
    if problems:
        fail(f"tshark reports {len(problems)} malformed or erroneous packets: {problems[:2]}")
    if (packets, octets) != (want_packets, want_octets):
        fail(f"tshark totals {packets} packets {octets} octets, manifest {want_packets} {want_octets}")

    if args.lossy_protocol:
        print(f"check_ipfix: best-effort flows missing: {len(lossy)}, partly missing: {len(partial)}")
    print(f"check_ipfix: OK: {len(expected) - len(lossy)} flows in {len(records)} records, {len(messages)} "
          f"messages, {want_packets} packets, {want_octets} octets "
          f"(ipfixDump per flow, tshark totals"
          f"{', sequence numbers' if not args.no_sequence_check else ''})")


if __name__ == "__main__":
    main()
