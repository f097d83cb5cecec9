#!/usr/bin/env python3
"""Figures for the bounded cache and history (issue 14 "Months of use by a team").

Three measurements, each in its own folder under --tmp (bench/bounds.sh makes it and deletes it
on exit):

  churn    the generated 2,000-gate workload (gen.py) with [settings.cache] max_size set, run
           --runs times; before each run but the first, --change gates among the last
           --pool gates get one of --versions input versions (switching back and forth, as
           branches do, so old entries are hit again). The cache folder's size after every run.
  noop     the same workload churned into --entries cache entries (every gate's input changed
           between full runs), then the no-op run timed on a copy of that cache folder restored
           as a CI job would (cp -a keeps the files' times): within budget, over budget
           (max_size --noop-max-size, eviction due), and without a ledger (a cache written
           before the ledger existed, so the walk is due); then the runs until the over-budget
           folder is back within it.
  history  a history of --history-gates gates x --days days x --runs-per-day runs, written
           directly; `runner status` (without and with the summary) and the file's size before
           and after `runner history compact`, whose time is given too; the status output must
           be the same.

usage: bounds.py --runner BIN --tmp DIR [--only churn,noop,history] [options]
Prints a Markdown report and writes the raw figures as JSON (--json).
"""
import argparse
import hashlib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time

GEN = "/work/shared/bench/gen.py"


def log(*a):
    print(f"[{time.strftime('%H:%M:%S')}]", *a, file=sys.stderr, flush=True)


def run(runner, cwd, *args, timeout=1800, check=True):
    """Run `runner ARGS` in `cwd`; (seconds, stdout)."""
    env = dict(os.environ)
    env.pop("RUNNER_NOW", None)
    t = time.perf_counter()
    p = subprocess.run([runner, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    secs = time.perf_counter() - t
    if check and p.returncode not in (0,):
        raise SystemExit(f"runner {' '.join(args)} in {cwd}: exit {p.returncode}\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}")
    return secs, p.stdout


def tree_bytes(path):
    """(apparent bytes, allocated bytes, files) of everything under `path`."""
    apparent = blocks = files = 0
    for root, dirs, names in os.walk(path):
        for n in names + dirs:
            try:
                st = os.lstat(os.path.join(root, n))
            except FileNotFoundError:
                continue
            blocks += st.st_blocks * 512
            if n in names:
                apparent += st.st_size
                files += 1
    return apparent, blocks, files


def parse_size(text):
    units = {"": 1, "b": 1, "kb": 10**3, "kib": 2**10, "mb": 10**6, "mib": 2**20, "gb": 10**9, "gib": 2**30}
    t = text.strip().lower()
    i = len(t.rstrip("abcdefghijklmnopqrstuvwxyz"))
    return int(float(t[:i]) * units[t[i:].strip()])


def with_budget(folder, max_size):
    """gates.toml with [settings.cache] max_size (replacing an earlier one)."""
    path = os.path.join(folder, "gates.toml")
    text = open(path).read()
    if "[settings.cache]" in text:
        head, rest = text.split("[settings.cache]\n", 1)
        rest = rest.split("\n", 1)[1]
        text = head + rest
    text = text.replace("version = 1\n", f'version = 1\n\n[settings.cache]\nmax_size = "{max_size}"\n', 1)
    open(path, "w").write(text)


def generate(n, folder):
    subprocess.run([sys.executable, GEN, str(n), folder], check=True, capture_output=True, timeout=900)


def ms(secs):
    return round(secs * 1000, 1)


def median_ms(xs):
    return ms(statistics.median(xs))


# ---------------------------------------------------------------- churn

def churn(a, tmp):
    folder = os.path.join(tmp, "churn")
    generate(a.gates, folder)
    with_budget(folder, a.max_size)
    budget = parse_size(a.max_size)
    rng = random.Random(14)
    names = sorted(os.listdir(os.path.join(folder, "in")))
    pool = names[-a.pool:]
    base = {g: open(os.path.join(folder, "in", g, "f0.txt")).read() for g in pool}
    rows = []
    for i in range(a.runs):
        changed = []
        if i > 0:
            for g in rng.sample(pool, a.change):
                v = rng.randrange(a.versions)
                with open(os.path.join(folder, "in", g, "f0.txt"), "w") as f:
                    f.write(base[g] + ("" if v == 0 else f"\nversion {v}\n"))
                changed.append(g)
        secs, out = run(a.runner, folder, "run", "-q")
        cached = int(out.split("(")[-1].split(" cached")[0]) if " cached)" in out else None
        folder_app, folder_blocks, _ = tree_bytes(os.path.join(folder, "cache"))
        entries_app, _, entries_n = tree_bytes(os.path.join(folder, "cache", "entries"))
        rows.append({"run": i + 1, "secs": round(secs, 3), "cached": cached, "folder": folder_app,
                     "folder_blocks": folder_blocks, "entries_bytes": entries_app, "entry_files": entries_n})
        if (i + 1) % 25 == 0 or i == 0:
            log(f"churn run {i + 1}: {folder_app / 2**20:.1f} MiB folder, {entries_n} files in entries/, {secs:.2f}s")
    over = [r for r in rows if r["folder"] > budget]
    return {
        "max_size": a.max_size, "budget_bytes": budget, "runs": a.runs, "gates": a.gates,
        "changed_per_run": a.change, "pool": a.pool, "versions": a.versions,
        "max_folder": max(r["folder"] for r in rows), "max_folder_blocks": max(r["folder_blocks"] for r in rows),
        "final_folder": rows[-1]["folder"], "runs_over_budget": len(over),
        "max_entry_files": max(r["entry_files"] for r in rows),
        "median_run_secs": statistics.median(r["secs"] for r in rows[1:]),
        "rows": rows,
    }


# ---------------------------------------------------------------- no-op with a big cache

def restore(src, dst):
    if os.path.exists(dst):
        shutil.rmtree(dst)
    subprocess.run(["cp", "-a", src, dst], check=True, timeout=600)


def noop(a, tmp):
    folder = os.path.join(tmp, "noop")
    generate(a.gates, folder)
    names = sorted(os.listdir(os.path.join(folder, "in")))
    versions = max(1, a.entries // a.gates)
    log(f"noop: {versions} full runs of {a.gates} gates to make {versions * a.gates} entries")
    for v in range(versions):
        if v > 0:
            for g in names:
                with open(os.path.join(folder, "in", g, "f0.txt"), "a") as f:
                    f.write(f"\nversion {v}\n")
        secs, _ = run(a.runner, folder, "run", "-q", timeout=3600)
        log(f"noop: full run {v + 1}/{versions}: {secs:.1f}s")
    run(a.runner, folder, "run", "-q")  # the no-op state: index and stat caches current
    cache = os.path.join(folder, "cache")
    pristine = os.path.join(tmp, "noop-cache-pristine")
    restore(cache, pristine)
    app, blocks, files = tree_bytes(os.path.join(pristine, "entries"))
    result = {"gates": a.gates, "entries": files - 2, "entries_bytes": app, "reps": a.reps}

    def timed_first_runs(prepare):
        times = []
        for _ in range(a.reps):
            restore(pristine, cache)
            prepare()
            secs, out = run(a.runner, folder, "run", "-q")
            assert f"({a.gates} cached)" in out, out
            times.append(secs)
        return times

    def settings(max_size):
        with_budget(folder, max_size)
        run(a.runner, folder, "list")  # the config snapshot of this gates.toml

    settings("5GiB")
    t = timed_first_runs(lambda: None)
    result["within_budget_ms"] = [ms(x) for x in t]
    log(f"noop within budget: median {median_ms(t)} ms")

    settings(a.noop_max_size)
    t = timed_first_runs(lambda: None)
    result["over_budget_first_ms"] = [ms(x) for x in t]
    log(f"noop over budget ({a.noop_max_size}), first run: median {median_ms(t)} ms")

    settings("5GiB")
    t = timed_first_runs(lambda: os.remove(os.path.join(cache, "ledger.bin")))
    result["no_ledger_first_ms"] = [ms(x) for x in t]
    log(f"noop without a ledger, first run: median {median_ms(t)} ms")

    # Over budget: the runs until the folder is within it again.
    settings(a.noop_max_size)
    restore(pristine, cache)
    budget = parse_size(a.noop_max_size)
    seq = []
    for i in range(60):
        secs, _ = run(a.runner, folder, "run", "-q")
        size = tree_bytes(cache)[0]
        seq.append({"run": i + 1, "ms": ms(secs), "folder": size})
        if size <= budget:
            break
    result["over_budget_sequence"] = seq
    result["noop_max_size"] = a.noop_max_size
    secs, out = run(a.runner, folder, "run", "-q")
    result["after_settled_ms"] = ms(secs)
    # The same folder pruned in one go, for comparison.
    restore(pristine, cache)
    secs, out = run(a.runner, folder, "cache", "prune")
    result["prune_whole_secs"] = round(secs, 2)
    log(f"noop over budget: {len(seq)} runs to get within it; prune in one go {secs:.2f}s")
    return result


# ---------------------------------------------------------------- history

def history(a, tmp):
    folder = os.path.join(tmp, "history")
    os.makedirs(os.path.join(folder, ".runner"))
    gates = [f"g{i:05d}" for i in range(a.history_gates)]
    with open(os.path.join(folder, "gates.toml"), "w") as f:
        f.write("version = 1\n\n")
        for i, g in enumerate(gates):
            f.write(f'[gates.{g}]\nrun = "true"\ncache = false\n')
            if i % 2:
                f.write('mode = "observational"\ngraduate_after_days = 7\n')
            f.write("\n")
    rng = random.Random(90)
    path = os.path.join(folder, ".runner", "history.jsonl")
    start = 1_788_220_800  # 2026-09-01T00:00:00Z
    statuses = ["pass"] * 95 + ["fail"] * 3 + ["skip", "error"]
    sha = "0123456789abcdef0123456789abcdef01234567"
    log(f"history: writing {a.history_gates} x {a.days} x {a.runs_per_day} lines")
    with open(path, "w") as f:
        for day in range(a.days):
            for r in range(a.runs_per_day):
                t = start + day * 86400 + 9 * 3600 + r * (8 * 3600 // max(1, a.runs_per_day))
                at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
                run_no = t * 1000
                chunk = []
                for i, g in enumerate(gates):
                    status = rng.choice(statuses)
                    mode = "observational" if i % 2 else "blocking"
                    cached = "true" if rng.random() < 0.8 else "false"
                    chunk.append(f'{{"at":"{at}","gate":"{g}","status":"{status}","mode":"{mode}","cached":{cached},"commit":"{sha}","run":{run_no}}}\n')
                f.write("".join(chunk))
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start + a.days * 86400 + 12 * 3600))
    summary = path + ".summary"

    def status(cold):
        times, digest = [], None
        for _ in range(a.reps):
            if cold and os.path.exists(summary):
                os.remove(summary)
            secs, out = run(a.runner, folder, "status", "--now", now)
            times.append(secs)
            digest = hashlib.sha256(out.encode()).hexdigest()
        return times, digest

    run(a.runner, folder, "list")  # the config snapshot
    res = {"gates": a.history_gates, "days": a.days, "runs_per_day": a.runs_per_day, "reps": a.reps}
    res["before_bytes"] = os.path.getsize(path)
    res["before_lines"] = a.history_gates * a.days * a.runs_per_day
    cold, d1 = status(True)
    warm, _ = status(False)
    res["status_before_cold_ms"] = [ms(x) for x in cold]
    res["status_before_warm_ms"] = [ms(x) for x in warm]
    log(f"history before: {res['before_bytes'] / 2**20:.0f} MiB; status cold {median_ms(cold)} ms, warm {median_ms(warm)} ms")
    secs, out = run(a.runner, folder, "history", "compact", "--now", now, timeout=3600)
    res["compact_secs"] = round(secs, 2)
    res["compact_output"] = out.strip()
    res["after_bytes"] = os.path.getsize(path)
    res["after_lines"] = sum(1 for _ in open(path))
    warm_after_compact, _ = status(False)
    cold, d2 = status(True)
    warm, _ = status(False)
    res["status_after_first_ms"] = [ms(x) for x in warm_after_compact]
    res["status_after_cold_ms"] = [ms(x) for x in cold]
    res["status_after_warm_ms"] = [ms(x) for x in warm]
    res["status_identical"] = d1 == d2
    log(f"history after: {res['after_bytes'] / 2**20:.0f} MiB; compact {secs:.1f}s; status cold {median_ms(cold)} ms, warm {median_ms(warm)} ms; identical: {d1 == d2}")
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runner", required=True)
    ap.add_argument("--tmp", required=True)
    ap.add_argument("--only", default="churn,noop,history")
    ap.add_argument("--gates", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=300)
    ap.add_argument("--change", type=int, default=20)
    ap.add_argument("--pool", type=int, default=200)
    ap.add_argument("--versions", type=int, default=4)
    ap.add_argument("--max-size", default="32MiB")
    ap.add_argument("--entries", type=int, default=20000)
    ap.add_argument("--noop-max-size", default="100MiB")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--history-gates", type=int, default=10000)
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--runs-per-day", type=int, default=2)
    ap.add_argument("--json")
    a = ap.parse_args()
    a.runner = os.path.abspath(a.runner)
    only = a.only.split(",")
    out = {}
    for name, fn in [("churn", churn), ("noop", noop), ("history", history)]:
        if name in only:
            log(f"== {name}")
            out[name] = fn(a, a.tmp)
            shutil.rmtree(os.path.join(a.tmp, name), ignore_errors=True)
            shutil.rmtree(os.path.join(a.tmp, "noop-cache-pristine"), ignore_errors=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1)
    report(out)


def report(out):
    mib = lambda b: f"{b / 2**20:.1f} MiB"
    if "churn" in out:
        c = out["churn"]
        print(f"## Cache size under churn\n\n{c['gates']} gates, {c['runs']} runs, {c['changed_per_run']} gates of the last "
              f"{c['pool']} switched among {c['versions']} input versions before each run; max_size = {c['max_size']} "
              f"({c['budget_bytes']} bytes).\n")
        print("| | value |\n|---|---|")
        print(f"| largest cache folder after a run (apparent size) | {mib(c['max_folder'])} ({c['max_folder']} bytes) |")
        print(f"| largest cache folder after a run (allocated blocks) | {mib(c['max_folder_blocks'])} |")
        print(f"| cache folder after the last run | {mib(c['final_folder'])} |")
        print(f"| runs that ended over max_size | {c['runs_over_budget']} |")
        print(f"| most files in entries/ | {c['max_entry_files']} |")
        print(f"| median run | {c['median_run_secs']:.2f} s |\n")
        sizes = [r["folder"] for r in c["rows"]]
        marks = [1, 10, 25, 50, 100, 150, 200, 250, 300]
        print("| after run | " + " | ".join(str(m) for m in marks if m <= len(sizes)) + " |")
        print("|---" * (1 + len([m for m in marks if m <= len(sizes)])) + "|")
        print("| folder | " + " | ".join(mib(sizes[m - 1]) for m in marks if m <= len(sizes)) + " |\n")
    if "noop" in out:
        n = out["noop"]
        med = lambda k: f"{statistics.median(n[k]):.0f} ms (of {', '.join(f'{x:.0f}' for x in n[k])})"
        print(f"## No-op run with a {n['entries']}-entry cache\n\n{n['gates']} gates, {n['entries']} entries "
              f"({mib(n['entries_bytes'])}), folder restored with cp -a before each timed run, median of {n['reps']}.\n")
        print("| case | first run after the restore |\n|---|---|")
        print(f"| within budget (5GiB) | {med('within_budget_ms')} |")
        print(f"| over budget (max_size {n['noop_max_size']}) | {med('over_budget_first_ms')} |")
        print(f"| no ledger (a cache from before it) | {med('no_ledger_first_ms')} |\n")
        seq = n["over_budget_sequence"]
        times = ", ".join("%.0f ms" % r["ms"] for r in seq)
        sizes = ", ".join(mib(r["folder"]) for r in seq)
        print(f"Over budget, the runs until the folder is within max_size: {len(seq)} ({times}); "
              f"folder after each: {sizes}. The next no-op: {n['after_settled_ms']:.0f} ms. "
              f"`runner cache prune` on the same folder in one go: {n['prune_whole_secs']} s.\n")
    if "history" in out:
        h = out["history"]
        med = lambda k: f"{statistics.median(h[k]):.0f} ms"
        print(f"## History of {h['gates']} gates x {h['days']} days x {h['runs_per_day']} runs a day\n")
        print("| | before compaction | after |\n|---|---|---|")
        print(f"| file | {mib(h['before_bytes'])} ({h['before_lines']} lines) | {mib(h['after_bytes'])} ({h['after_lines']} lines) |")
        print(f"| runner status, no summary | {med('status_before_cold_ms')} | {med('status_after_cold_ms')} |")
        print(f"| runner status, with the summary | {med('status_before_warm_ms')} | {med('status_after_warm_ms')} |")
        print(f"\n`runner history compact`: {h['compact_secs']} s ({h['compact_output']}). "
              f"Status output identical before and after: {h['status_identical']}.\n")


if __name__ == "__main__":
    main()
