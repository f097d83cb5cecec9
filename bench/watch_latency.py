#!/usr/bin/env python3
"""Change-to-start latency of `runner watch` at N gates (default 10,000).

Generates the shared workload (bench/gen.py: N gates in layers of sqrt(N), each reading 4
inputs and needing 2 gates of the layer before), makes every gate append its name and the
time its process started (`date +%s%N`) to a log outside the workload, starts `runner watch`
and waits for its first run to finish. Then, per trial, appends a line to one input and
measures the time from the write to the start of the affected gate's process, read from the
log: the debounce, the matching of the changed path against every gate, the selection and
preparation with the warm caches, and the spawn, all included.

usage: watch_latency.py [N] [--runner PATH] [--debounce 100ms] [--trials 5]
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("n", type=int, nargs="?", default=10000)
    ap.add_argument("--runner", default=os.path.join(os.path.dirname(__file__), "..", "target", "release", "runner"))
    ap.add_argument("--debounce", default="100ms")
    ap.add_argument("--trials", type=int, default=5)
    a = ap.parse_args()
    runner = os.path.abspath(a.runner)
    tmp = tempfile.mkdtemp(prefix="watch-latency-")
    try:
        work = os.path.join(tmp, "w")
        subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), "gen.py"), str(a.n), work], check=True)
        starts = os.path.join(tmp, "starts.log")
        path = os.path.join(work, "gates.toml")
        with open(path) as f:
            text = f.read()
        text = text.replace('run = "', f'run = "echo $RUNNER_GATE $(date +%s%N) >> {starts}; ')
        with open(path, "w") as f:
            f.write(text)
        out_path = os.path.join(tmp, "watch.out")
        out = open(out_path, "w")
        t = time.time()
        child = subprocess.Popen([runner, "watch", "-j", "2", "--debounce", a.debounce], cwd=work,
                                 stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

        def waits():
            with open(out_path) as f:
                return f.read().count("watch: waiting for changes")

        def wait_idle(n, limit=1800):
            deadline = time.time() + limit
            while waits() < n:
                if child.poll() is not None or time.time() > deadline:
                    raise SystemExit(f"watch ended or hung; see {out_path}")
                time.sleep(0.01)

        wait_idle(1)
        print(f"{a.n} gates: first run {time.time() - t:.1f} s")
        width = int(a.n ** 0.5)
        last_layer = f"g{a.n - 1:05d}"
        first_layer = "g00000"

        def trial(gate, n_wait):
            with open(starts) as f:
                seen = len(f.readlines())
            t0 = time.time_ns()
            with open(os.path.join(work, "in", gate, "f0.txt"), "a") as f:
                f.write("x\n")
            deadline = time.time() + 600
            while True:
                with open(starts) as f:
                    lines = f.readlines()[seen:]
                hit = [int(l.split()[1]) for l in lines if l.split()[0] == gate]
                if hit:
                    break
                if time.time() > deadline:
                    raise SystemExit("no start within 600 s")
                time.sleep(0.002)
            latency = (hit[0] - t0) / 1e6
            wait_idle(n_wait)
            with open(starts) as f:
                ran = len(f.readlines()) - seen
            return latency, ran

        n_wait = 1
        for name, gate in [("a gate without dependents", last_layer), ("a first-layer gate", first_layer)]:
            results = []
            for _ in range(a.trials):
                n_wait += 1
                results.append(trial(gate, n_wait))
            lat = [r[0] for r in results]
            print(f"edit of {name} ({gate}): change-to-start median {statistics.median(lat):.0f} ms "
                  f"(min {min(lat):.0f}, max {max(lat):.0f}; debounce {a.debounce}); "
                  f"gates re-run per edit: {results[0][1]}")
        child.kill()
        child.wait()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
