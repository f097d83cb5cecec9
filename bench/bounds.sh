#!/usr/bin/env bash
# Figures for the bounded cache and history (issue 14): the cache folder's size over 300 runs of
# a churning 2,000-gate workload with max_size set, the no-op run with a 20,000-entry cache
# (within budget, over budget, without a ledger), and `runner status` and the history's size
# for 10,000 gates x 90 days before and after `runner history compact`. See bench/bounds.py.
#
# usage: bench/bounds.sh [--no-build] [--out FILE] [bounds.py options: --only churn,noop,history,
#        --runs N, --max-size S, --entries N, --noop-max-size S, --history-gates N, --days N, ...]
# Everything generated lives in one mktemp folder under /tmp, deleted on exit. Needs python3
# (stdlib only) and cargo.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=1
OUT=
PASS=()
while [ $# -gt 0 ]; do
    case "$1" in
        --no-build) BUILD=0; shift ;;
        --out) OUT=$2; shift 2 ;;
        *) PASS+=("$1"); shift ;;
    esac
done
TMP=$(mktemp -d /tmp/runner-bounds.XXXXXX)
cleanup() { rm -rf "$TMP"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
if [ "$BUILD" = 1 ]; then
    timeout 3600 cargo build --release --quiet
fi
cp target/release/runner "$TMP/runner"
mkdir "$TMP/work"
if [ -n "$OUT" ]; then
    python3 bench/bounds.py --runner "$TMP/runner" --tmp "$TMP/work" --json "$TMP/bounds.json" "${PASS[@]}" | tee "$OUT"
    cp "$TMP/bounds.json" "${OUT%.md}.json"
else
    python3 bench/bounds.py --runner "$TMP/runner" --tmp "$TMP/work" "${PASS[@]}"
fi
