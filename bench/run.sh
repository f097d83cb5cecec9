#!/usr/bin/env bash
# Benchmark runner against ninja, GNU make and Turborepo on the same generated workloads
# (issues 2 and 6): cold, no-op, one input changed, every input touched, 1 of N selected; at
# 200, 2,000 and 10,000 gates; plus the floors (stat, BLAKE3, spawn, the gates' own commands)
# and a callgrind profile of runner's no-op. Prints the tables and writes bench/RESULTS.md and
# bench/results.json (every run's numbers).
#
# usage: bench/run.sh [options]
#   --sizes LIST          gate counts, default 200,2000,10000
#   --quick               sizes 50,200, 2 repetitions, no callgrind: to try the script
#   --no-build            use target/release/runner as it is (default: cargo build --release first)
#   --wait-quiet LOAD     before measuring, wait until the 1-minute load average is below LOAD
#   --wait-max MINUTES    give up waiting after this long and measure anyway (default 40)
#   --out FILE            default bench/RESULTS.md
#   anything else is passed to bench/bench.py (--reps-light, --reps-heavy, --limit-light,
#   --limit-heavy, --heavy-budget, --make-max, --callgrind-sizes, --jobs)
#
# Needs python3 (stdlib only), cc, cargo, and node/npm for turbo (without npm the turbo column
# is left out and RESULTS.md says why). Installs ninja-build with apt-get when missing, and the
# npm package `turbo` into the temp folder. Everything generated lives in one mktemp folder under
# /tmp, deleted on exit; every helper command is bounded by `timeout`, every timed command by a
# deadline in bench.py (TERM to its process group, KILL 5 s later).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
ORIG_ARGS="$*"

SIZES=200,2000,10000
BUILD=1
WAIT_LOAD=
WAIT_MAX=40
OUT=bench/RESULTS.md
PASS=()
while [ $# -gt 0 ]; do
    case "$1" in
        --sizes) SIZES=$2; shift 2 ;;
        --quick) SIZES=50,200; PASS+=(--reps-light 2 --reps-heavy 2 --callgrind-sizes 200); shift ;;
        --no-build) BUILD=0; shift ;;
        --wait-quiet) WAIT_LOAD=$2; shift 2 ;;
        --wait-max) WAIT_MAX=$2; shift 2 ;;
        --out) OUT=$2; shift 2 ;;
        *) PASS+=("$1"); shift ;;
    esac
done

log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

TMP=$(mktemp -d /tmp/runner-bench.XXXXXX)
PY_PID=
cleanup() {
    if [ -n "$PY_PID" ]; then kill "$PY_PID" 2>/dev/null || true; wait "$PY_PID" 2>/dev/null || true; fi
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$TMP/bin"

# ---- tools
if ! command -v ninja >/dev/null; then
    log "installing ninja-build"
    timeout 600 apt-get install -y -q ninja-build >/dev/null 2>&1 ||
        { timeout 600 apt-get update -q >/dev/null && timeout 600 apt-get install -y -q ninja-build >/dev/null; }
fi
for t in make python3 cc cargo valgrind callgrind_annotate; do
    command -v "$t" >/dev/null || { echo "bench/run.sh: $t is required" >&2; exit 2; }
done

build_runner() {
    log "cargo build --release"
    timeout 3600 cargo build --release --quiet
    cp target/release/runner "$TMP/bin/runner.new" && mv "$TMP/bin/runner.new" "$TMP/bin/runner"
}
if [ "$BUILD" = 1 ]; then build_runner; else cp target/release/runner "$TMP/bin/runner"; fi

log "building the floors' helpers"
timeout 120 cc -O2 -o "$TMP/bin/statfloor" bench/statfloor.c
timeout 120 cc -O2 -o "$TMP/bin/measure" bench/measure.c
mkdir -p "$TMP/b3floor/src"
cp bench/b3floor.rs "$TMP/b3floor/src/main.rs"
cat > "$TMP/b3floor/Cargo.toml" <<'EOF'
[package]
name = "b3floor"
version = "0.0.0"
edition = "2021"

[dependencies]
blake3 = { version = "1", features = ["rayon"] }
rayon = "1"

[workspace]
EOF
( cd "$TMP/b3floor" && { timeout 900 cargo build --release --quiet --offline 2>/dev/null ||
    timeout 900 cargo build --release --quiet; } )
cp "$TMP/b3floor/target/release/b3floor" "$TMP/bin/b3floor"

TURBO=
TURBO_NOTE=
NPM=$(command -v npm || true)
if [ -z "$NPM" ]; then
    TURBO_NOTE="unavailable: npm is not installed"
else
    log "npm install turbo (into the temp folder)"
    mkdir -p "$TMP/turbo"
    echo '{"name":"bench-tools","private":true}' > "$TMP/turbo/package.json"
    if timeout 600 npm install --prefix "$TMP/turbo" --no-audit --no-fund --loglevel=error "turbo@${TURBO_VERSION:-latest}" \
        >"$TMP/npm-install.log" 2>&1; then
        # The native binary (an optional dependency) directly: node_modules/.bin/turbo is a node
        # wrapper that would add node's start-up to every turbo figure.
        TURBO=$(ls "$TMP"/turbo/node_modules/@turbo/*/bin/turbo 2>/dev/null | head -1 || true)
        if [ -z "$TURBO" ]; then
            TURBO_NOTE="unavailable: npm installed turbo but no native binary for $(uname -m) arrived"
        elif ! TURBO_TELEMETRY_DISABLED=1 TURBO_NO_UPDATE_NOTIFIER=1 DO_NOT_TRACK=1 timeout 60 "$TURBO" --version >/dev/null 2>&1; then
            TURBO_NOTE="unavailable: the native binary does not run: $(timeout 60 "$TURBO" --version 2>&1 | head -3)"
            TURBO=
        fi
    else
        TURBO_NOTE="unavailable: npm install turbo failed: $(tail -3 "$TMP/npm-install.log")"
    fi
fi
[ -n "$TURBO_NOTE" ] && log "turbo $TURBO_NOTE"

# ---- wait for a quiet machine
load1() { cut -d' ' -f1 /proc/loadavg; }
wait_quiet() {
    local deadline=$1
    while awk -v l="$(load1)" -v t="$WAIT_LOAD" 'BEGIN { exit !(l >= t) }'; do
        if [ "$(date +%s)" -ge "$deadline" ]; then log "still loaded ($(cat /proc/loadavg)); measuring anyway"; return; fi
        log "load $(cat /proc/loadavg), waiting for < $WAIT_LOAD"
        sleep 30
    done
}
if [ -n "$WAIT_LOAD" ]; then
    DEADLINE=$(( $(date +%s) + WAIT_MAX * 60 ))
    wait_quiet "$DEADLINE"
    if [ "$BUILD" = 1 ]; then
        # others may have changed the sources while we waited: rebuild, and if that compiled
        # anything, wait again (within the same deadline)
        before=$(stat -c %Y target/release/runner)
        build_runner || log "rebuild failed; measuring the binary built before"
        [ "$(stat -c %Y target/release/runner)" != "$before" ] && wait_quiet "$DEADLINE"
    fi
fi
LOAD_BEFORE=$(cat /proc/loadavg)

# ---- versions
dirty=$(git status --porcelain -- src Cargo.toml Cargo.lock 2>/dev/null | wc -l)
RUNNER_V="$("$TMP/bin/runner" --version) at $(git rev-parse --short HEAD)"
[ "$dirty" -gt 0 ] && RUNNER_V="$RUNNER_V + $dirty uncommitted file(s) in src/Cargo"
NPM_V=$([ -n "$NPM" ] && timeout 60 npm --version || echo none)
VERSIONS=$(python3 - "$RUNNER_V" "$(ninja --version)" "$(make --version | head -1)" \
    "$([ -n "$TURBO" ] && TURBO_TELEMETRY_DISABLED=1 timeout 60 "$TURBO" --version || echo "$TURBO_NOTE")" \
    "$(node --version 2>/dev/null || echo none)" "$NPM_V" "$(valgrind --version)" <<'EOF'
import json, sys
k = ["runner", "ninja", "make", "turbo", "node", "npm", "valgrind"]
print(json.dumps(dict(zip(k, sys.argv[1:]))))
EOF
)

log "measuring: sizes $SIZES"
python3 bench/bench.py --runner "$TMP/bin/runner" --turbo "$TURBO" --statfloor "$TMP/bin/statfloor" \
    --b3floor "$TMP/bin/b3floor" --gen bench/gen.py --measure "$TMP/bin/measure" --tmp "$TMP" --json "$TMP/results.json" \
    --sizes "$SIZES" --npm-version "$NPM_V" --real-npm "${NPM:-npm}" --load-before "$LOAD_BEFORE" \
    --versions "$VERSIONS" --repro "bench/run.sh $ORIG_ARGS" ${PASS[@]+"${PASS[@]}"} &
PY_PID=$!
rc=0
wait "$PY_PID" || rc=$?
PY_PID=

# bench.py saves after every scenario: even an interrupted run leaves its tables behind
mkdir -p "$(dirname "$OUT")"
if [ -s "$TMP/results.json" ]; then
    # The raw numbers first: a report that fails must not take an hour's measurements with it.
    cp "$TMP/results.json" "$(dirname "$OUT")/results.json"
    python3 bench/report.py "$TMP/results.json" "$OUT"
    log "wrote $OUT and $(dirname "$OUT")/results.json"
fi
[ "$rc" = 0 ] || log "bench.py exited with $rc: the results are partial"
exit "$rc"
