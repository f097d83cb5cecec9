#!/usr/bin/env bash
# Artifact folders (issue 18): storing and restoring a 10,000-file output folder, side by side
# with `cp -a` of the same folder (the floor: what copying the files costs at all).
#
# usage: bench/artifact_sets.sh [FILES] [REPEATS]     (defaults: 10000 files, 5 repeats; median)
#        RUNNER=path/to/runner uses that binary instead of building target/release/runner.
#
# The folder: FILES files of 1 KiB in 100 subfolders, one in 50 executable, one in 100 a
# symlink. Timed (wall clock, whole process, median of REPEATS):
#   cp -a          copying the folder (the floor for both directions)
#   run + store    `runner run --no-cache`: the gate (`cp -a` of the folder) then storing the
#                  set; minus the floor, that is what storing costs
#   restore        the folder deleted, `runner run`: a hit restoring every file
#   hit, in place  nothing changed: the index's set checked against the folder on disk
#   hit, 1 stale   one extra file in the folder: the hit removes it
# Everything lives under one mktemp folder in /tmp, deleted on exit; each command is bounded by
# `timeout`.
set -euo pipefail
cd "$(dirname "$0")/.."

FILES=${1:-10000}
REPEATS=${2:-5}
if [ -z "${RUNNER:-}" ]; then
    cargo build --release --quiet
    RUNNER=$PWD/target/release/runner
fi

WORK=$(mktemp -d /tmp/runner-artifact-sets.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"

python3 - "$FILES" <<'EOF'
import os, sys
n = int(sys.argv[1])
for i in range(n):
    d = f"seed/d{i % 100:02d}"
    os.makedirs(d, exist_ok=True)
    p = f"{d}/f{i:05d}.txt"
    if i % 100 == 99:
        # A link to the file before it (in d98: i - 1 ends in 98).
        os.symlink(f"../d98/f{i - 1:05d}.txt", p)
        continue
    with open(p, "wb") as f:
        f.write((f"{i:08d}" * 128).encode())
    if i % 50 == 7:
        os.chmod(p, 0o755)
EOF
cat > gates.toml <<'EOF'
version = 1

[gates.build]
run = "cp -a seed/. dist/"
artifacts = ["dist"]
EOF

# Median wall seconds of REPEATS runs of "$@", after `prepare` (not timed) before each.
median() {
    local prepare=$1
    shift
    local times=()
    for _ in $(seq "$REPEATS"); do
        eval "$prepare"
        local t0 t1
        t0=$(date +%s.%N)
        timeout 300 "$@" >/dev/null
        t1=$(date +%s.%N)
        times+=("$(echo "$t1 - $t0" | bc)")
    done
    printf '%s\n' "${times[@]}" | sort -g | awk '{a[NR]=$1} END {printf "%.3f", a[int((NR+1)/2)]}'
}

"$RUNNER" run -q >/dev/null # warm: the entry exists, the stat cache knows the seed

floor=$(median 'rm -rf copy' cp -a seed copy)
store=$(median 'rm -rf dist' "$RUNNER" run -q --no-cache)
restore=$(median 'rm -rf dist' "$RUNNER" run -q)
"$RUNNER" run -q >/dev/null
inplace=$(median ':' "$RUNNER" run -q)
stale=$(median 'echo x > dist/d00/stale.txt' "$RUNNER" run -q)

cached=$(python3 -c 'import json; print(json.load(open("cache/report.json"))["summary"]["cached"])')
entry=$(du -sk cache/entries | cut -f1)
test "$cached" = 1 || { echo "the last run was not a hit" >&2; exit 1; }
test ! -e dist/d00/stale.txt || { echo "the stale file survived the hit" >&2; exit 1; }
diff -r --no-dereference seed dist >/dev/null || { echo "the restored folder differs from the seed" >&2; exit 1; }

echo "files: $FILES ($((FILES / 100)) symlinks), entry: ${entry} KiB, median of $REPEATS, $(nproc) cores"
printf '%-48s %8s s\n' "cp -a of the folder (floor)" "$floor"
printf '%-48s %8s s\n' "run (cp -a) + store the set (--no-cache)" "$store"
printf '%-48s %8s s\n' "restore the deleted folder (hit)" "$restore"
printf '%-48s %8s s\n' "hit, folder in place (no-op)" "$inplace"
printf '%-48s %8s s\n' "hit, one stale extra file removed" "$stale"
