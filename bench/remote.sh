#!/usr/bin/env bash
# Remote cache benchmark: a fresh clone of a 2,000-gate workload replayed from a
# turborepo-remote-cache server, against running the gates, and the per-gate cost of remote
# lookups (hits and misses, with and without prefetch), on localhost and through a proxy that
# adds network latency (bench/latency_proxy.py). Results go in bench/REMOTE.md by hand.
#
# usage: bench/remote.sh [GATES] [REPEATS]        (defaults: 2000 gates, 3 repeats; median shown)
#        LATENCY_MS=5 (default) sets the proxy's delay each way.
#
# Needs python3, curl, bc, node/npm (the server is installed under target/remote-cache-server/
# as .ci/run does) and a release build. Everything generated lives under one mktemp folder in
# /tmp, deleted at the end; the server and the proxy are stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${1:-2000}
REPEATS=${2:-3}
SERVER_VERSION=2.12.0
SERVER_DIR=target/remote-cache-server
SERVER_BIN=${RUNNER_TEST_REMOTE_CACHE_BIN:-$PWD/$SERVER_DIR/node_modules/.bin/turborepo-remote-cache}

if [ ! -x "$SERVER_BIN" ]; then
    timeout 300 npm install --prefix "$SERVER_DIR" --no-audit --no-fund --loglevel=error \
        "turborepo-remote-cache@$SERVER_VERSION" >/dev/null
fi
cargo build --release --quiet
RUNNER=$PWD/target/release/runner

WORK=$(mktemp -d /tmp/runner-remote-bench.XXXXXX)
SERVER_PID=
cleanup() {
    if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
start_server() {
    rm -rf "$WORK/store"
    STORAGE_PROVIDER=local STORAGE_PATH="$WORK/store" STORAGE_PATH_USE_TMP_FOLDER=false \
        TURBO_TOKEN=bench PORT=$PORT HOST=127.0.0.1 LOG_LEVEL=warn ENABLE_STATUS_LOG=false \
        "$SERVER_BIN" >"$WORK/server.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 1 300); do
        curl -sf -H 'Authorization: Bearer bench' "http://127.0.0.1:$PORT/v8/artifacts/status" >/dev/null && return
        sleep 0.1
    done
    echo "server did not start" >&2; cat "$WORK/server.log" >&2; exit 1
}
stop_server() { kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=; }

# The workload, with remote cache and signing settings prepended to its gates.toml.
python3 /work/shared/bench/gen.py "$N" "$WORK/origin" >/dev/null
rm -f "$WORK/origin/build.ninja" "$WORK/origin/Makefile"
"$RUNNER" keygen --out "$WORK/keys/ci" >/dev/null
mkdir -p "$WORK/origin/keys" && cp "$WORK/keys/ci.pub" "$WORK/origin/keys/"
{
    printf 'version = 1\n\n[settings.remote_cache]\nurl = "http://127.0.0.1:%s"\nteam = "bench"\nwrite = true\ntimeout = "10s"\n\n' "$PORT"
    printf '[settings.signing]\ntrusted_keys = ["keys/ci.pub"]\n\n'
    tail -n +2 "$WORK/origin/gates.toml"
} >"$WORK/gates.toml"
mv "$WORK/origin/gates.toml" "$WORK/plain.toml" && mv "$WORK/gates.toml" "$WORK/origin/gates.toml"

export RUNNER_REMOTE_CACHE_TOKEN=bench NO_PROXY=127.0.0.1 no_proxy=127.0.0.1

# A fresh clone: the sources, an empty out/ and no cache. PLAIN=1: without the remote settings;
# EMPTY=1: another team, for which the server holds nothing.
clone() {
    rm -rf "$WORK/clone"; cp -r "$WORK/origin" "$WORK/clone"
    if [ "${PLAIN:-}" = 1 ]; then cp "$WORK/plain.toml" "$WORK/clone/gates.toml"; fi
    if [ "${EMPTY:-}" = 1 ]; then sed -i 's/^team = "bench"/team = "empty"/' "$WORK/clone/gates.toml"; fi
}

# Median wall time of REPEATS runs of `runner run` in a fresh clone; $@ = extra env.
time_fresh() {
    local times=()
    for _ in $(seq 1 "$REPEATS"); do
        PLAIN=${PLAIN:-} EMPTY=${EMPTY:-} clone
        local t0 t1
        t0=$(date +%s.%N)
        (cd "$WORK/clone" && env "$@" "$RUNNER" run -q -j 2 >"$WORK/out.txt" 2>"$WORK/err.txt") || {
            cat "$WORK/err.txt" >&2; exit 1; }
        t1=$(date +%s.%N)
        times+=("$(echo "$t1 - $t0" | bc)")
    done
    printf '%s\n' "${times[@]}" | sort -n | sed -n "$(((REPEATS + 1) / 2))p"
}
summary() { tail -n 1 "$WORK/out.txt"; }
warned() { grep -c '^warning' "$WORK/err.txt" || true; }

echo "== $N gates, $(nproc) cores, median of $REPEATS, runner -j 2"
start_server

T_RUN=$(PLAIN=1 time_fresh)
echo "run every gate (no remote)           ${T_RUN}s   $(summary)"

T_EMPTY=$(EMPTY=1 time_fresh)
echo "run every gate, empty remote (misses) ${T_EMPTY}s   $(summary)"

clone
t0=$(date +%s.%N)
(cd "$WORK/clone" && RUNNER_SIGNING_KEY="$WORK/keys/ci.key" "$RUNNER" run -q -j 2 >"$WORK/out.txt")
T_WRITE=$(echo "$(date +%s.%N) - $t0" | bc)
echo "trusted CI run: run + sign + upload    ${T_WRITE}s   $(summary)   ($(find "$WORK/store" -type f | wc -l) entries on the server)"

T_PREFETCH=$(time_fresh)
echo "fresh clone from remote (prefetch)     ${T_PREFETCH}s   $(summary)   warnings: $(warned)"
T_SERIAL=$(time_fresh RUNNER_REMOTE_PREFETCH=0)
echo "fresh clone from remote (serial)       ${T_SERIAL}s   $(summary)"

# Replaying the same entries from the local cache: the floor the remote adds to.
clone
(cd "$WORK/clone" && "$RUNNER" run -q -j 2 >/dev/null 2>&1)
times=()
for _ in $(seq 1 "$REPEATS"); do
    rm -rf "$WORK/clone/out" "$WORK/clone/cache/index.bin" "$WORK/clone/cache/logs" && mkdir "$WORK/clone/out"
    t0=$(date +%s.%N)
    (cd "$WORK/clone" && "$RUNNER" run -q -j 2 >"$WORK/out.txt" 2>/dev/null)
    times+=("$(echo "$(date +%s.%N) - $t0" | bc)")
done
T_LOCAL=$(printf '%s\n' "${times[@]}" | sort -n | sed -n "$(((REPEATS + 1) / 2))p")
echo "restore everything from local cache    ${T_LOCAL}s   $(summary)"

per_gate() { echo "scale=3; ($1 - $2) * 1000 / $N" | bc; }
echo
echo "per-gate remote overhead over a local replay: prefetch $(per_gate "$T_PREFETCH" "$T_LOCAL") ms, serial $(per_gate "$T_SERIAL" "$T_LOCAL") ms"
echo "per-gate cost of a remote miss over no remote:  $(per_gate "$T_EMPTY" "$T_RUN") ms"
echo "fresh clone speed-up from the remote (prefetch): $(echo "scale=1; $T_RUN / $T_PREFETCH" | bc)x"

# The same across a network: a proxy adding LATENCY_MS each way (default 5: ~10 ms a request).
LATENCY_MS=${LATENCY_MS:-5}
PROXY_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 bench/latency_proxy.py "$PROXY_PORT" "$PORT" "$LATENCY_MS" &
PROXY_PID=$!
trap 'kill $PROXY_PID 2>/dev/null || true; cleanup' EXIT
sleep 0.5
export RUNNER_REMOTE_CACHE_URL=http://127.0.0.1:$PROXY_PORT
echo
echo "== through a proxy adding ${LATENCY_MS} ms each way (median of $REPEATS; serial: 1 run)"
T_LAT_PREFETCH=$(time_fresh)
echo "fresh clone from remote (prefetch)     ${T_LAT_PREFETCH}s   $(summary)   warnings: $(warned)"
T_LAT_SERIAL=$(REPEATS=1 time_fresh RUNNER_REMOTE_PREFETCH=0)
echo "fresh clone from remote (serial)       ${T_LAT_SERIAL}s   $(summary)"
T_LAT_EMPTY=$(REPEATS=1 EMPTY=1 time_fresh)
echo "run every gate, empty remote (misses)  ${T_LAT_EMPTY}s   $(summary)"
echo "per-gate: prefetch $(per_gate "$T_LAT_PREFETCH" "$T_LOCAL") ms, serial $(per_gate "$T_LAT_SERIAL" "$T_LOCAL") ms over a local replay; a miss $(per_gate "$T_LAT_EMPTY" "$T_RUN") ms over no remote"
kill $PROXY_PID 2>/dev/null || true
unset RUNNER_REMOTE_CACHE_URL

# A dead remote: one timeout at most, then local only.
echo
stop_server
T_DOWN=$(time_fresh)
echo "run every gate, remote down            ${T_DOWN}s   $(summary)   warnings: $(warned)"
