#!/usr/bin/python3
"""Writes a pcap mixing valid packets with one malformed packet per ignore
reason of poolflowd's parser, and prints the expected counts as JSON. Its frame
and pcap helpers serve other tests too (import make_malformed_pcap)."""

import json
import struct
import sys

ETH = b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01"


def ipv4(proto, payload, ihl=5, total=None, version=4):
    header = struct.pack("!BBHHHBBH4s4s", version << 4 | ihl, 0,
                         total if total is not None else ihl * 4 + len(payload),
                         1, 0, 64, proto, 0, bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]))
    return header + b"\x00" * (ihl * 4 - 20 if ihl >= 5 else 0) + payload


def ipv6(next_header, payload, length=None, version=6):
    return (struct.pack("!IHBB", version << 28, len(payload) if length is None else length,
                        next_header, 64) + b"\xfd" + b"\x00" * 15 + b"\xfd" + b"\x01" * 15 + payload)


def tcp(offset=5, sport=1000, dport=80):
    return struct.pack("!HHIIBBHHH", sport, dport, 0, 0, offset << 4, 0x10, 1024, 0, 0)


def udp(sport=2000, dport=53):
    return struct.pack("!HHHH", sport, dport, 8, 0)


def eth(ether_type, l3):
    return ETH + struct.pack("!H", ether_type) + l3


# Classic pcap, microsecond timestamps, Ethernet.
PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)


def pcap_record(at_ms, frame):
    """One packet captured at `at_ms` milliseconds since the epoch."""
    return struct.pack("<IIII", at_ms // 1000, at_ms % 1000 * 1000, len(frame), len(frame)) + frame


def main():
    valid = [eth(0x0800, ipv4(6, tcp())), eth(0x0800, ipv4(17, udp())), eth(0x86dd, ipv6(6, tcp()))]
    malformed = {
        "short_ethernet": [ETH[:10]],
        "non_ip": [eth(0x0806, b"\x00" * 28)],
        "ipv4_bad_header": [eth(0x0800, ipv4(6, tcp(), ihl=4)), eth(0x0800, ipv4(6, tcp(), version=5))],
        "ipv4_bad_length": [eth(0x0800, ipv4(6, tcp(), total=1500)), eth(0x0800, ipv4(6, tcp(), total=10))],
        "ipv6_bad_header": [eth(0x86dd, ipv6(6, tcp(), version=4))],
        "ipv6_bad_length": [eth(0x86dd, ipv6(6, tcp(), length=1000))],
        "tcp_bad_offset": [eth(0x0800, ipv4(6, tcp(offset=3)))],
        "l4_truncated": [eth(0x0800, ipv4(6, tcp()[:10]))],
    }

    out = sys.argv[1]
    rounds = 100
    with open(out, "wb") as f:
        f.write(PCAP_HEADER)
        # Packet n is captured n ms after t.
        t = 1_700_000_000
        n = 0
        ignored_ms = []
        for r in range(rounds):
            for frame in valid + [p for ps in malformed.values() for p in ps]:
                f.write(pcap_record(t * 1000 + n, frame))
                if frame not in valid:
                    ignored_ms.append(t * 1000 + n)
                n += 1
    print(json.dumps({"valid": rounds * len(valid), "valid_flows": len(valid),
                      "ignored": {k: rounds * len(v) for k, v in malformed.items()},
                      "first_ignored_ms": min(ignored_ms), "last_ignored_ms": max(ignored_ms),
                      "ignored_octets": rounds * sum(len(p) for ps in malformed.values() for p in ps)}))


if __name__ == "__main__":
    main()
