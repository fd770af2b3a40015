#!/usr/bin/env bash
# Set-up, build and every test suite. Exit code 0 only when all pass.
#   scripts/test.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${1:-build}

scripts/setup.sh "$build_dir"
meson compile -C "$build_dir"
meson test -C "$build_dir" --print-errorlogs --num-processes 2
