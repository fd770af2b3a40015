#!/usr/bin/env bash
# Bad input at poolflow-collector from real sockets on 127.0.0.1: over TCP a
# wrong version and a set past the end of its message each close their session
# while a good session goes on; over UDP truncated datagrams, data without
# templates and a flood of new templates are counted; memory stays bounded and
# the collector exits cleanly with every error in its statistics; a silent UDP
# exporter's session ends after listen.udp_idle_timeout_s.
source "$(dirname "$0")/common.sh"
COLLECTOR=$BUILD/src/poolflow-collector
port=47420

"$COLLECTOR" --listen "tcp:127.0.0.1:$port" --listen "udp:127.0.0.1:$port" \
  --set decoder.max_templates_per_session=100 --set listen.udp_idle_timeout_s=1 \
  >"$WORK/collector.txt" 2>"$WORK/collector.log" &
collector=$!
trap 'kill -KILL $collector 2>/dev/null || true; rm -rf "$WORK"' EXIT
wait_for "$WORK/collector.log" "listening on" 10
expect_line "$WORK/collector.log" "listening on tcp 127.0.0.1:$port, udp 127.0.0.1:$port"

timeout 60 /usr/bin/python3 - "$port" <<'PY'
import socket, struct, sys, time
port = int(sys.argv[1])

def message(sets, version=10, length=None, sequence=0, domain=1):
    body = b"".join(sets)
    return struct.pack("!HHIII", version, length or 16 + len(body), 0, sequence, domain) + body

def template_set(tid):  # sourceIPv4Address, packetDeltaCount
    return struct.pack("!HHHHHHHH", 2, 16, tid, 2, 8, 4, 2, 8)

def data_set(tid, n):
    records = b"".join(struct.pack("!4sQ", bytes([10, 0, 0, i % 256]), 1) for i in range(n))
    return struct.pack("!HH", tid, 4 + len(records)) + records

def closed_by_peer(s, seconds=5):
    s.settimeout(seconds)
    try:
        return s.recv(1) == b""
    except (ConnectionResetError, socket.timeout) as e:
        return isinstance(e, ConnectionResetError)

good = socket.create_connection(("127.0.0.1", port))
good.sendall(message([template_set(256), data_set(256, 10)], sequence=0))

wrong_version = socket.create_connection(("127.0.0.1", port))
wrong_version.sendall(message([template_set(256)], version=9))
assert closed_by_peer(wrong_version), "a wrong version did not close the TCP session"

past_end = socket.create_connection(("127.0.0.1", port))
m = bytearray(message([template_set(256), data_set(256, 2)]))
m[16 + 16 + 3] = 200  # the data set claims 200 octets
past_end.sendall(bytes(m))
assert closed_by_peer(past_end), "a set past the message end did not close the TCP session"

udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(200):
    udp.sendto(message([template_set(256)])[:10], ("127.0.0.1", port))   # truncated
    udp.sendto(message([data_set(300, 3)]), ("127.0.0.1", port))          # no template 300
for tid in range(256, 256 + 5000):                                        # template flood
    udp.sendto(message([template_set(tid)]), ("127.0.0.1", port))
    if tid % 500 == 0:
        time.sleep(0.01)  # loopback drops UDP beyond its buffer: pace a little

# The good session is unharmed: 10 more records, numbered after the first 10.
good.sendall(message([data_set(256, 10)], sequence=10))
time.sleep(0.5)
good.close()
print("bad input sent; bad TCP sessions were closed by the collector")
PY

for _ in $(seq 50); do
  grep -q "session .* ended: tcp .*: 20 records" "$WORK/collector.log" && break
  sleep 0.1
done
# A silent UDP exporter's session ends (and its templates with it) after the idle timeout.
for _ in $(seq 50); do
  grep -q "session .* ended: udp" "$WORK/collector.log" && break
  sleep 0.1
done
expect_line "$WORK/collector.log" "session [0-9]+ ended: udp 127.0.0.1"
rss_kib=$(awk '/VmRSS/ { print $2 }' "/proc/$collector/status")
kill -USR1 "$collector"
sleep 0.5
kill -INT "$collector"
timeout 20 tail --pid="$collector" -f /dev/null || die "collector did not stop on SIGINT"
rc=0
wait "$collector" || rc=$?
cat "$WORK/collector.log" "$WORK/collector.txt"
[[ $rc -eq 0 ]] || die "collector exit $rc"
[[ $rss_kib -lt 102400 ]] || die "collector uses $rss_kib KiB after the flood"
expect_line "$WORK/collector.log" "wrong_version: message discarded"
expect_line "$WORK/collector.log" "set_past_end: message discarded"
expect_line "$WORK/collector.log" "template_limit"
expect_line "$WORK/collector.txt" "tcp 127.0.0.1:[0-9]+ \[closed\]: messages 2 .*records 20, lost 0 .*errors: none"
expect_line "$WORK/collector.txt" "errors: .*wrong_version 1"
expect_line "$WORK/collector.txt" "errors: .*set_past_end 1"
udp=$(grep -E "^  udp 127.0.0.1:[0-9]+ \[closed\]" "$WORK/collector.txt")
[[ $udp =~ message_too_short\ ([0-9]+) ]] && ((BASH_REMATCH[1] > 0)) || die "truncated datagrams not counted: $udp"
[[ $udp =~ data_without_template\ ([0-9]+) ]] && ((BASH_REMATCH[1] > 0)) || die "data without template not counted: $udp"
[[ $udp =~ template_limit\ ([0-9]+) ]] && ((BASH_REMATCH[1] > 0)) || die "template flood not counted: $udp"
[[ $udp =~ templates\ ([0-9]+) ]] && ((BASH_REMATCH[1] <= 100 + 1)) || die "more templates kept than allowed: $udp"
# SIGUSR1 printed the statistics while running, too.
[[ $(grep -c "^poolflow-collector statistics" "$WORK/collector.txt") -eq 2 ]] || die "no statistics on SIGUSR1"
echo "bad input: counted, bad TCP sessions closed, good session intact, RSS $rss_kib KiB"
