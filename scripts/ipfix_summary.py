#!/usr/bin/python3
"""Summarises an IPFIX file as decoded by libfixbuf's ipfixDump: flows,
packets, octets and the top talkers.   ipfix_summary.py FILE [--top N]"""

import argparse
import collections
import re
import subprocess
import sys

_FIELD = re.compile(r"^\s*\(([\d/]+)\)\s+(\w+)\s*:\s*(.*)$")  # (id) or (pen/id)


def read_ipfixdump(path):
    """Decodes `path` with ipfixDump. Returns (records, messages): records are
    dicts of IE name -> text, messages are [sequence number, data records]."""
    run = subprocess.run(["ipfixDump", "-i", path], capture_output=True, text=True)
    if run.returncode != 0:
        raise RuntimeError(f"ipfixDump exit {run.returncode}: {run.stderr.strip()}")
    records, messages, current = [], [], None
    for line in run.stdout.splitlines():
        if line.startswith("--- data record"):
            current = {}
            records.append(current)
        elif line.startswith("--- Message Header"):
            current = None
        elif m := re.search(r"sequence number: (\d+)", line):
            messages.append([int(m.group(1)), 0])
        elif m := re.match(r"\*\*\* Msg Stats: (\d+) Data Records", line):
            messages[-1][1] = int(m.group(1))
        elif current is not None and (m := _FIELD.match(line)):
            current[m.group(2)] = m.group(3).strip()
    return records, messages


def endpoint(r, side):
    address = r.get(f"{side}IPv4Address") or r.get(f"{side}IPv6Address")
    port = r.get(f"{side}TransportPort", "0")
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("file")
    ap.add_argument("--top", type=int, default=5)
    args = ap.parse_args()
    try:
        records, messages = read_ipfixdump(args.file)
    except RuntimeError as e:
        sys.exit(f"ipfix_summary: {e}")
    records = [r for r in records if "packetDeltaCount" in r]  # flow records, not options
    packets = sum(int(r["packetDeltaCount"]) for r in records)
    octets = sum(int(r["octetDeltaCount"]) for r in records)
    print(f"{args.file}: {len(messages)} IPFIX messages, {len(records)} flow records, "
          f"{packets} packets, {octets} octets")
    versions = collections.Counter("IPv6" if "sourceIPv6Address" in r else "IPv4" for r in records)
    reasons = collections.Counter(r["flowEndReason"] for r in records)
    names = {"1": "idle", "2": "active", "3": "end of flow", "4": "forced end", "5": "lack of resources"}
    print("  " + ", ".join(f"{n} {v}" for v, n in sorted(versions.items())) + " | ended: " +
          ", ".join(f"{names.get(k, k)} {n}" for k, n in sorted(reasons.items())))
    print(f"  top {args.top} talkers by octets:")
    talkers = sorted(records, key=lambda r: int(r["octetDeltaCount"]), reverse=True)
    for r in talkers[:args.top]:
        print(f"    {endpoint(r, 'source'):>28} -> {endpoint(r, 'destination'):<28} "
              f"proto {r['protocolIdentifier']:>3} vlan {r['vlanId']:>4}  "
              f"{int(r['packetDeltaCount']):>7} pkts {int(r['octetDeltaCount']):>10} octets")


if __name__ == "__main__":
    main()
