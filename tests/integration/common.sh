# Sourced by the integration tests: BUILD (the meson build directory, first
# argument) and a scratch directory removed at exit.
set -euo pipefail
BUILD=$(cd "${1:?usage: $0 BUILD_DIR}" && pwd)
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
POOLFLOWD=$BUILD/src/poolflowd
GEN=$BUILD/perf/poolflow-gen
CHECK_IPFIX="/usr/bin/python3 $HERE/check_ipfix.py"
WORK=$(mktemp -d /tmp/poolflow-test.XXXXXX)
trap '[[ -n ${POOLFLOW_KEEP_WORK:-} ]] && echo "kept $WORK" >&2 || rm -rf "$WORK"' EXIT

die() {
  echo "FAIL: $*" >&2
  exit 1
}

# wait_for FILE REGEX SECONDS: until FILE has a line matching REGEX (extended),
# at most SECONDS; dies otherwise.
wait_for() {
  for _ in $(seq $(($3 * 10))); do
    grep -Eq -- "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  cat "$1" >&2
  die "no line matching '$2' in $1 within $3 s"
}

# interrupt PID: SIGINT to a child of this shell; returns its exit status, dies
# if it has not exited within 30 s.
interrupt() {
  kill -INT "$1"
  timeout 30 tail --pid="$1" -f /dev/null || die "pid $1 did not stop within 30 s of SIGINT"
  local rc=0
  wait "$1" || rc=$?
  return $rc
}

# expect_line FILE REGEX: FILE has a line matching REGEX.
expect_line() {
  grep -Eq -- "$2" "$1" || { cat "$1" >&2; die "$1 has no line matching: $2"; }
}
