#!/usr/bin/env python3
"""Change-to-artifact latency of `runner watch` on a workload that already ran (any size).

`watch_latency.py` edits the config to log each gate's start, so its first run is cold: at
100,000 gates that alone takes minutes. This one leaves the config as it is: on a workload of
`gen.py` that `runner run` has already run (a no-op now), it starts `runner watch`, waits for its
first run to end, then per trial appends a line to an input of the last gate and times from the
write to the moment that gate's artifact is rewritten (its mtime changes): the debounce, the
matching, the selection and preparation with the warm caches, the spawn and the gate's own
`cat`, all included.

usage: watch_artifact_latency.py WORKLOAD [--runner PATH] [--debounce 10ms] [--trials 7]
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("workload")
    ap.add_argument("--runner", default=os.path.join(os.path.dirname(__file__), "..", "target", "release", "runner"))
    ap.add_argument("--debounce", default="10ms")
    ap.add_argument("--trials", type=int, default=7)
    a = ap.parse_args()
    work = os.path.abspath(a.workload)
    gates = sorted(os.listdir(os.path.join(work, "in")))
    last = gates[-1]
    source = os.path.join(work, "in", last, "f0.txt")
    artifact = os.path.join(work, "out", f"{last}.txt")
    out = tempfile.NamedTemporaryFile(prefix="watch-", suffix=".out", delete=False)
    child = subprocess.Popen([os.path.abspath(a.runner), "watch", "-j", "2", "--debounce", a.debounce],
                             cwd=work, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        def waits():
            with open(out.name) as f:
                return f.read().count("watch: waiting for changes")

        def wait_idle(n, limit=1800):
            deadline = time.time() + limit
            while waits() < n:
                if child.poll() is not None or time.time() > deadline:
                    sys.exit(f"watch ended or hung; see {out.name}")
                time.sleep(0.01)

        t = time.time()
        wait_idle(1)
        print(f"{len(gates)} gates: first run {time.time() - t:.1f} s")
        lat = []
        for trial in range(a.trials):
            before = os.stat(artifact).st_mtime_ns
            t0 = time.time_ns()
            with open(source, "a") as f:
                f.write("x\n")
            deadline = time.time() + 600
            while True:
                try:
                    m = os.stat(artifact).st_mtime_ns
                except FileNotFoundError:
                    m = before
                if m != before:
                    break
                if time.time() > deadline:
                    sys.exit("no rewrite within 600 s")
                time.sleep(0.0005)
            lat.append((m - t0) / 1e6)
            wait_idle(trial + 2)
        print(f"edit of {last}'s input: change-to-artifact median {statistics.median(lat):.0f} ms "
              f"(min {min(lat):.0f}, max {max(lat):.0f}; debounce {a.debounce}; {a.trials} trials)")
    finally:
        child.kill()
        child.wait()
        os.unlink(out.name)


if __name__ == "__main__":
    main()
