# Sourced by the traffic scripts that run poolflowd in the background.

# wait_for_poolflowd PID LOG: returns once poolflowd logged that its lcores are
# launching (at most 10 s); exits with its log if it died before.
wait_for_poolflowd() {
  for _ in $(seq 200); do
    grep -q "worker(s) on core" "$2" && return 0
    kill -0 "$1" 2>/dev/null || { cat "$2" >&2; exit 1; }
    sleep 0.05
  done
}

# received_packets SUMMARY: the packets poolflowd's exit summary counted.
received_packets() { sed -nE 's/ *packets received +([0-9]+) .*/\1/p' "$1"; }
