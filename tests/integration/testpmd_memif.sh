#!/usr/bin/env bash
# A second DPDK process as traffic generator: dpdk-testpmd (tx-only, many
# flows) over memif into poolflowd (scripts/testpmd-memif.sh). memif pushes
# back instead of dropping, so every packet testpmd sent is received, metered
# and ends up in flow records.
source "$(dirname "$0")/common.sh"

"$HERE/../../scripts/testpmd-memif.sh" --build "$BUILD" --seconds 2 >"$WORK/out.txt" 2>&1 ||
  { cat "$WORK/out.txt" >&2; die "testpmd-memif failed"; }
cat "$WORK/out.txt"
sent=$(sed -nE 's/.*testpmd sent ([0-9]+) packets.*/\1/p' "$WORK/out.txt")
received=$(sed -nE 's/.*poolflowd received ([0-9]+).*/\1/p' "$WORK/out.txt")
((sent > 100000)) || die "testpmd sent only ${sent:-nothing}"
((sent == received)) || die "sent $sent, received $received"
expect_line "$WORK/out.txt" "packets parsed +$received$"
expect_line "$WORK/out.txt" "flows ended +[1-9][0-9]* "
