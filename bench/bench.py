#!/usr/bin/env python3
"""Time runner, ninja, make and Turborepo side by side on the same generated workloads.

Called by bench/run.sh (which installs and builds the tools and owns the temp folder); Python 3
standard library only. See bench/RESULTS.md for what it measured last and how to reproduce.

Measurement: every timed command runs under bench/measure.c (`measure RESULTFILE CMD...`), a
tiny C wrapper that does what `/usr/bin/time -f '%e %M'` does with a nanosecond clock: fork,
exec, wait4; wall time from CLOCK_MONOTONIC around fork..reap, peak memory from the child's
rusage ru_maxrss (the largest resident set among the command and the descendants it waited for),
CPU from ru_utime+ru_stime. (Forking straight from Python would not do: ru_maxrss survives exec,
so every command would report at least the harness's ~20 MiB.) Each timed command has a deadline
(SIGTERM to its process group, SIGKILL 5 s later): the bound of coreutils `timeout -k 5 LIMIT`,
without one more process inside the measurement.
"""
import argparse
import hashlib
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time

GATE_SELECTED = "g00042"
MEASURE = "measure"  # set from --measure


# ------------------------------------------------------------------------------------------
# measuring one command


class Run:
    __slots__ = ("wall", "rss_kb", "cpu", "rc", "timed_out", "executed", "stderr")

    def __init__(self, wall, rss_kb, cpu, rc, timed_out):
        self.wall, self.rss_kb, self.cpu, self.rc, self.timed_out = wall, rss_kb, cpu, rc, timed_out
        self.executed = None
        self.stderr = ""


_current = [None]


def on_term(signum, frame):
    """Interrupted: end the command being timed (its own process group), then exit."""
    pid = _current[0]
    if pid:
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    sys.exit(128 + signum)


def measure(cmd, cwd, env, limit, log_prefix):
    """Run cmd (a list) in cwd under the measure wrapper; stdout and stderr go to files at
    log_prefix.{out,err}."""
    res = log_prefix + ".res"
    with open(log_prefix + ".out", "wb") as out, open(log_prefix + ".err", "wb") as err:
        t0 = time.perf_counter()
        p = subprocess.Popen([MEASURE, res, *cmd], cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out,
                             stderr=err, start_new_session=True)
        _current[0] = p.pid
        fired = []

        def kill():
            fired.append(1)
            for sig, pause in ((signal.SIGTERM, 5), (signal.SIGKILL, 0)):
                try:
                    os.killpg(p.pid, sig)
                except ProcessLookupError:
                    return
                time.sleep(pause)

        timer = threading.Timer(limit, kill)
        timer.daemon = True
        timer.start()
        rc = p.wait()
        outer = time.perf_counter() - t0
        timer.cancel()
        _current[0] = None
    try:
        with open(res) as f:
            ns, rss, ut, st = (int(x) for x in f.read().split())
        r = Run(ns / 1e9, rss, (ut + st) / 1e6, rc, bool(fired))
    except (OSError, ValueError):
        r = Run(outer, 0, 0.0, rc if rc else 125, bool(fired))
    with open(log_prefix + ".err", "rb") as f:
        r.stderr = f.read()[-4000:].decode("utf-8", "replace")
    return r


def sh(cmd, cwd=None, limit=600, env=None):
    """An untimed helper command, bounded by coreutils timeout; raises on failure."""
    subprocess.run(["timeout", "-k", "5", str(limit)] + cmd, cwd=cwd, env=env, check=True,
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)


# ------------------------------------------------------------------------------------------
# tools


class Tool:
    name = ""
    needs_git = False

    def __init__(self, ctx):
        self.ctx = ctx

    def env(self):
        return self.ctx.base_env

    def all_cmd(self):
        raise NotImplementedError

    def select_cmd(self, gate):
        raise NotImplementedError

    def executed(self, d, run, marker_ns):
        """How many gates this run executed (not replayed)."""
        return count_newer_outputs(d, marker_ns)

    def before_scenario(self, d):
        pass


def count_newer_outputs(d, marker_ns):
    n = 0
    with os.scandir(os.path.join(d, "out")) as it:
        for e in it:
            if e.stat(follow_symlinks=False).st_mtime_ns >= marker_ns:
                n += 1
    return n


class Runner(Tool):
    name = "runner"

    def all_cmd(self):
        return [self.ctx.runner, "run", "-q", "-j", str(self.ctx.jobs)]

    def select_cmd(self, gate):
        return [self.ctx.runner, "run", "-q", "-j", str(self.ctx.jobs), gate]

    def executed(self, d, run, marker_ns):
        with open(run_log(run) + ".out", errors="replace") as f:
            text = f.read()
        m = re.search(r"(\d+) gates?:.*\((\d+) cached\)", text + run.stderr)
        if not m:
            return None
        return int(m.group(1)) - int(m.group(2))


class Ninja(Tool):
    name = "ninja"

    def all_cmd(self):
        return ["ninja", "-j", str(self.ctx.jobs)]

    def select_cmd(self, gate):
        return ["ninja", "-j", str(self.ctx.jobs), f"out/{gate}.txt"]


class Make(Tool):
    name = "make"
    flags = []

    def all_cmd(self):
        return ["make", *self.flags, f"-j{self.ctx.jobs}"]

    def select_cmd(self, gate):
        return ["make", *self.flags, f"-j{self.ctx.jobs}", f"out/{gate}.txt"]


class MakeR(Make):
    name = "make -r"
    flags = ["-r"]


class Turbo(Tool):
    name = "turbo"
    needs_git = True
    flags = ["--output-logs=errors-only", "--ui=stream", "--log-order=stream"]

    def env(self):
        e = dict(self.ctx.base_env)
        e.update(TURBO_TELEMETRY_DISABLED="1", TURBO_NO_UPDATE_NOTIFIER="1", DO_NOT_TRACK="1",
                 TURBO_PRINT_VERSION_DISABLED="1")
        return e

    def shim_env(self):
        e = self.env()
        e["PATH"] = self.ctx.shim_dir + ":" + e["PATH"]
        return e

    def all_cmd(self):
        return [self.ctx.turbo, "run", "all", f"--concurrency={self.ctx.jobs}", *self.flags]

    def select_cmd(self, gate):
        return [self.ctx.turbo, "run", gate, f"--concurrency={self.ctx.jobs}", *self.flags]

    def executed(self, d, run, marker_ns):
        with open(run_log(run) + ".out", errors="replace") as f:
            text = f.read()
        t = re.search(r"Tasks:\s+(\d+) successful, (\d+) total", text)
        c = re.search(r"Cached:\s+(\d+) cached, (\d+) total", text)
        if not (t and c):
            return None
        return int(c.group(2)) - int(c.group(1))

    def before_scenario(self, d):
        # A developer's checkout has a fresh git index; turbo hashes inputs through it.
        subprocess.run(["timeout", "600", "git", "update-index", "-q", "--refresh"], cwd=d,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


_logs = {}


def run_log(run):
    return _logs[id(run)]


# ------------------------------------------------------------------------------------------
# the benchmark


class Ctx:
    pass


class Cell:
    """All repetitions of one (size, scenario, tool)."""

    def __init__(self):
        self.runs = []
        self.note = ""
        self.skipped = False  # not run (predicted over the limit)
        self.limit = None
        self.est = None  # when skipped: the estimated time

    def ok_runs(self):
        return [r for r in self.runs if not r.timed_out and r.rc == 0]

    def median(self):
        ok = self.ok_runs()
        return statistics.median(r.wall for r in ok) if ok else None

    def to_json(self):
        return {
            "walls": [round(r.wall, 6) for r in self.runs],
            "rss_kb": [r.rss_kb for r in self.runs],
            "cpu": [round(r.cpu, 6) for r in self.runs],
            "rc": [r.rc for r in self.runs],
            "timed_out": [r.timed_out for r in self.runs],
            "executed": [r.executed for r in self.runs],
            "median": self.median(),
            "note": self.note,
            "skipped": self.skipped,
            "limit": self.limit,
            "est": self.est,
        }


SCENARIOS = [
    ("cold", "cold: fresh copy, empty caches"),
    ("cold-shim", "cold, turbo with `npm run` bypassed (engine only)"),
    ("noop", "no-op: second run, nothing changed"),
    ("noop-hist", "no-op after 20 more runs (history grows)"),
    ("select", f"1 of N selected (`{GATE_SELECTED}`), nothing changed"),
    ("select-cold", f"1 of N selected (`{GATE_SELECTED}`), fresh copy"),
    ("leaf", "one input changed, a gate of the last layer"),
    ("touch", "every input touched, same content"),
    ("root", "one input changed, a gate of the first layer (`g00000`)"),
]


class Bench:
    def __init__(self, a):
        self.a = a
        self.ctx = Ctx()
        c = self.ctx
        c.runner, c.turbo, c.jobs = a.runner, a.turbo, a.jobs
        c.base_env = dict(os.environ)
        c.base_env.pop("RUNNER_TIMINGS", None)
        c.shim_dir = os.path.join(a.tmp, "npm-shim")
        self.tools = [Runner(c), Ninja(c), Make(c), MakeR(c)]
        if a.turbo:
            self.tools.append(Turbo(c))
        if a.tools:
            keep = a.tools.split(",")
            self.tools = [t for t in self.tools if t.name in keep or t.name == "runner"]
        self.history = {}  # size -> {when: lines}
        self.data = {}  # size -> scenario -> tool -> Cell
        self.floors = {}  # size -> name -> Cell
        self.phases = {}  # size -> [ {phase: ms} ]
        self.profiles = {}  # size -> text
        self.checks = {}  # size -> text
        self.counter = 0
        self.t_start = time.time()

    # -- helpers

    def log(self, msg):
        print(f"[{time.strftime('%H:%M:%S')} +{time.time() - self.t_start:5.0f}s] {msg}", file=sys.stderr,
              flush=True)

    def timed(self, tool, cmd, cwd, env, limit, count=True):
        self.counter += 1
        prefix = os.path.join(self.a.tmp, "logs", f"{self.counter:05d}")
        marker = time.time_ns()
        r = measure(cmd, cwd, env, limit, prefix)
        _logs[id(r)] = prefix
        if count and tool is not None and not r.timed_out:
            try:
                r.executed = tool.executed(cwd, r, marker)
            except OSError:
                r.executed = None
        return r

    def cell(self, n, scen, tool):
        return self.data.setdefault(n, {}).setdefault(scen, {}).setdefault(tool.name, Cell())

    def fresh(self, n, tool, tag):
        src = self.templates[n]["turbo" if tool.needs_git else "plain"]
        d = os.path.join(self.a.tmp, "runs", str(n), f"{tool.name.replace(' ', '')}-{tag}")
        if os.path.exists(d):
            shutil.rmtree(d)
        os.makedirs(os.path.dirname(d), exist_ok=True)
        sh(["cp", "-a", src, d])
        tool.before_scenario(d)
        return d

    def limit_for(self, scen):
        return self.a.limit_heavy if scen in ("cold", "cold-shim", "touch", "root") else self.a.limit_light

    def report_run(self, n, scen, tool, r, rep):
        st = "TIMEOUT" if r.timed_out else ("rc=%d" % r.rc if r.rc else "ok")
        self.log(f"N={n:<6} {scen:<11} {tool.name:<8} rep {rep}: {r.wall * 1000:10.1f} ms  "
                 f"rss {r.rss_kb / 1024:7.1f} MiB  ran {r.executed}  {st}")
        if r.rc and not r.timed_out:
            self.log("   stderr: " + r.stderr[-600:].replace("\n", "\n   "))

    def predicted_over(self, n, scen, tool):
        """Skip what cannot fit the limit. Estimate = this tool's cost per executed gate (its cold
        run at this size, else at the largest smaller size) times the gates the scenario must
        execute: all of them cold (and on a touch for mtime tools), g00000's downstream closure
        for a first-layer change."""
        if scen not in ("cold", "root", "touch"):
            return None
        if scen == "touch" and tool.name in ("runner", "turbo"):
            return None
        per_gate = None
        for m in sorted(self.data):
            if m > n or (m == n and scen == "cold"):
                continue
            c = self.data[m].get("cold", {}).get(tool.name)
            if c and c.median() is not None:
                per_gate = c.median() / m
            elif c and c.skipped and c.est:
                per_gate = c.est / m
            elif c and any(r.timed_out for r in c.runs):
                per_gate = c.limit / m  # a lower bound
        if per_gate is None:
            return None
        work = self.closure.get(n, n) if scen == "root" else n
        est = per_gate * work
        if est > self.limit_for(scen):
            return est
        return None

    # -- scenarios

    def run_reps(self, n, scen, tools, reps, prepare, cmd_of, env_of=None):
        """Interleave tools per repetition. prepare(tool, rep) -> dir; stop a tool's reps once
        it timed out or its total time passed the heavy budget."""
        live = list(tools)
        for rep in range(reps):
            for tool in list(live):
                cell = self.cell(n, scen, tool)
                cell.limit = self.limit_for(scen)
                if rep == 0:
                    est = self.predicted_over(n, scen, tool)
                    if est is not None:
                        cell.skipped, cell.est = True, est
                        cell.note = f"not run: estimated {est:.0f} s from its cold run's time per gate"
                        self.log(f"N={n} {scen} {tool.name}: skipped ({cell.note})")
                        live.remove(tool)
                        continue
                d = prepare(tool, rep)
                env = env_of(tool) if env_of else tool.env()
                r = self.timed(tool, cmd_of(tool), d, env, cell.limit)
                cell.runs.append(r)
                self.report_run(n, scen, tool, r, rep)
                if r.timed_out or r.rc != 0 or sum(x.wall for x in cell.runs) > self.a.heavy_budget:
                    live.remove(tool)
        self.save()  # a killed run keeps everything measured so far

    def size(self, n):
        a = self.a
        self.log(f"=== {n} gates")
        tools = [t for t in self.tools if not (n > a.make_max and t.name == "make")]
        for t in self.tools:
            if t not in tools:
                c = self.cell(n, "cold", t)
                c.skipped, c.note = True, f"not run above {a.make_max} gates (--make-max)"
        # workload
        base = os.path.join(a.tmp, "w", str(n))
        plain, turbo_t, extras = base + "-plain", base + "-turbo", base + "-extras"
        sh([sys.executable, a.gen, str(n), plain, "--turbo", "--npm-version", a.npm_version, "--extras", extras],
           limit=1200)
        if any(t.needs_git for t in tools):
            sh(["cp", "-a", plain, turbo_t])
            sh(["git", "init", "-q"], cwd=turbo_t)
            sh(["git", "add", "-A"], cwd=turbo_t, limit=1200)
            sh(["git", "-c", "user.email=bench@localhost", "-c", "user.name=bench", "commit", "-q", "-m", "workload"],
               cwd=turbo_t, limit=1200)
        with open(os.path.join(extras, "graph.json")) as f:
            g = json.load(f)
        down = {}
        for name, deps in zip(g["names"], g["deps"]):
            for d in deps:
                down.setdefault(d, []).append(name)
        seen, stack = {"g00000"}, ["g00000"]
        while stack:
            for x in down.get(stack.pop(), []):
                if x not in seen:
                    seen.add(x)
                    stack.append(x)
        self.closure = getattr(self, "closure", {})
        self.closure[n] = len(seen)
        self.templates = getattr(self, "templates", {})
        self.templates[n] = {"plain": plain, "turbo": turbo_t}
        self.write_shim(extras)
        heavy, light = a.reps_heavy, a.reps_light

        # floors
        self.run_floors(n, plain, extras)

        # cold
        warm = {}

        def prep_cold(tool, rep):
            d = self.fresh(n, tool, f"cold{rep}")
            old = warm.get(tool.name)
            warm[tool.name] = d
            if old and old != d:
                shutil.rmtree(old, ignore_errors=True)
            return d

        self.run_reps(n, "cold", tools, heavy, prep_cold, lambda t: t.all_cmd())
        for t in tools:
            c = self.cell(n, "cold", t)
            if c.runs and c.runs[-1].rc == 0 and not c.runs[-1].timed_out:
                continue
            if t.name == "turbo":
                # Seed the warm state with npm bypassed (same hashes: PATH is not hashed), and time it.
                d = self.fresh(n, t, "shim")
                cs = self.cell(n, "cold-shim", t)
                cs.limit = a.limit_heavy
                r = self.timed(t, t.all_cmd(), d, t.shim_env(), a.limit_heavy)
                cs.runs.append(r)
                self.report_run(n, "cold-shim", t, r, 0)
                if r.rc == 0 and not r.timed_out:
                    old = warm.get(t.name)
                    warm[t.name] = d
                    if old and old != d:
                        shutil.rmtree(old, ignore_errors=True)
                    continue
            self.log(f"N={n}: {t.name} has no warm state; its warm scenarios are skipped")
            warm.pop(t.name, None)
        tools_w = [t for t in tools if t.name in warm]
        # turbo's engine without npm, timed once even when its real cold run worked
        tb = [t for t in tools_w if t.name == "turbo"]
        if tb and not self.cell(n, "cold-shim", tb[0]).runs:
            t = tb[0]
            d = self.fresh(n, t, "shim")
            cs = self.cell(n, "cold-shim", t)
            cs.limit = a.limit_heavy
            r = self.timed(t, t.all_cmd(), d, t.shim_env(), a.limit_heavy)
            cs.runs.append(r)
            self.report_run(n, "cold-shim", t, r, 0)
            shutil.rmtree(d, ignore_errors=True)
        self.checks[n] = self.check_outputs(warm)

        def settle():
            for t in tools_w:
                t.before_scenario(warm[t.name])
                r = self.timed(t, t.all_cmd(), warm[t.name], t.env(), a.limit_heavy, count=False)
                if r.rc != 0 or r.timed_out:
                    self.log(f"N={n}: settle run of {t.name} failed rc={r.rc}: {r.stderr[-300:]}")

        settle()
        # profile the runner's no-op on its warm copy, its history two runs long
        if "runner" in warm and n in a.callgrind_sizes:
            self.profile(n, warm["runner"])
            settle()
        if "runner" in warm:
            self.history.setdefault(n, {})["at_noop"] = history_lines(warm["runner"])
        self.run_reps(n, "noop", tools_w, light, lambda t, rep: warm[t.name], lambda t: t.all_cmd())
        if "runner" in warm:
            self.runner_phases(n, warm["runner"], light)
            # runner appends every run to .runner/history.jsonl and reads it all back on the next
            # run: time the no-op again after more runs
            rt = [t for t in tools_w if t.name == "runner"]
            hist = self.history.setdefault(n, {})
            hist["before"] = history_lines(warm["runner"])
            for _ in range(a.history_runs):
                self.timed(None, rt[0].all_cmd(), warm["runner"], rt[0].env(), a.limit_light, count=False)
            hist["after"] = history_lines(warm["runner"])
            hist["runs"] = a.history_runs
            self.run_reps(n, "noop-hist", rt, light, lambda t, rep: warm[t.name], lambda t: t.all_cmd())
            self.runner_phases(n, warm["runner"], light, key="phases_hist")
        self.run_reps(n, "select", tools_w, light, lambda t, rep: warm[t.name],
                      lambda t: t.select_cmd(GATE_SELECTED))
        if "runner" in warm:
            self.runner_phases(n, warm["runner"], light, key="phases_select",
                               cmd=self.tools[0].select_cmd(GATE_SELECTED))

        leaf = f"g{n - 1:05d}"

        def mutate(gate, rep):
            def prep(tool, _rep):
                p = os.path.join(warm[tool.name], "in", gate, "f0.txt")
                with open(p, "r+b") as f:
                    f.write(bytes([ord("A") + rep]))  # never in the generated alphabet
                return warm[tool.name]
            return prep

        self.run_reps(n, "leaf", tools_w, heavy, lambda t, rep: mutate(leaf, rep)(t, rep), lambda t: t.all_cmd())

        def touch_all(tool, rep):
            d = warm[tool.name]
            now = time.time_ns()
            for root, _dirs, files in os.walk(os.path.join(d, "in")):
                for f in files:
                    os.utime(os.path.join(root, f), ns=(now, now))
            return d

        settle()
        self.run_reps(n, "touch", tools_w, heavy, touch_all, lambda t: t.all_cmd())
        settle()
        self.run_reps(n, "root", tools_w, heavy, lambda t, rep: mutate("g00000", rep)(t, rep),
                      lambda t: t.all_cmd())


        sel = {}

        def prep_sel(tool, rep):
            old = sel.get(tool.name)
            if old:
                shutil.rmtree(old, ignore_errors=True)
            sel[tool.name] = self.fresh(n, tool, f"sel{rep}")
            return sel[tool.name]

        self.run_reps(n, "select-cold", tools, heavy, prep_sel, lambda t: t.select_cmd(GATE_SELECTED))
        shutil.rmtree(os.path.join(a.tmp, "runs", str(n)), ignore_errors=True)
        shutil.rmtree(base + "-plain", ignore_errors=True)
        shutil.rmtree(base + "-turbo", ignore_errors=True)
        self.save()

    def write_shim(self, extras):
        os.makedirs(self.ctx.shim_dir, exist_ok=True)
        p = os.path.join(self.ctx.shim_dir, "npm")
        with open(p, "w") as f:
            f.write("#!/bin/sh\n# turbo runs `npm run <script>`: run the script's command directly.\n"
                    f'if [ "$1" = run ] && [ -f "{extras}/scripts/$2.sh" ]; then exec /bin/sh "{extras}/scripts/$2.sh"; fi\n'
                    f'exec {self.a.real_npm} "$@"\n')
        os.chmod(p, 0o755)

    def check_outputs(self, warm):
        digests = {}
        for name, d in warm.items():
            h = hashlib.blake2b()
            outd = os.path.join(d, "out")
            for f in sorted(os.listdir(outd)):
                with open(os.path.join(outd, f), "rb") as fh:
                    h.update(f.encode() + b"\0" + fh.read())
            digests[name] = h.hexdigest()[:16]
        same = len(set(digests.values())) == 1
        return ("identical out/ after the cold run: " + ("yes" if same else "NO") + " ("
                + ", ".join(f"{k} {v}" for k, v in digests.items()) + ")")

    def run_floors(self, n, plain, extras):
        a = self.a
        fl = self.floors.setdefault(n, {})
        d = os.path.join(a.tmp, "runs", str(n), "floor")
        if os.path.exists(d):
            shutil.rmtree(d)
        os.makedirs(os.path.dirname(d), exist_ok=True)
        sh(["cp", "-a", plain, d])
        layers = sorted(os.listdir(os.path.join(extras, "layers")))
        exec_script = os.path.join(a.tmp, f"exec-floor-{n}.sh")
        with open(exec_script, "w") as f:
            f.write("set -e\n")
            for l in layers:
                f.write(f"xargs -P {a.jobs} -d '\\n' -n 1 sh -c < {extras}/layers/{l}\n")
        specs = [
            ("harness", ["true"], a.reps_light),
            ("stat", [a.statfloor, "in"], a.reps_light),
            ("blake3", [a.b3floor, "in"], a.reps_light),
            ("spawn", ["sh", "-c", f"seq {n} | xargs -P {a.jobs} -n 1 sh -c true"], a.reps_heavy),
            ("exec", ["sh", exec_script], a.reps_heavy),
        ]
        env = dict(self.ctx.base_env, RAYON_NUM_THREADS=str(a.jobs))
        for name, cmd, reps in specs:
            c = fl.setdefault(name, Cell())
            c.limit = a.limit_heavy
            for rep in range(reps):
                r = self.timed(None, cmd, d, env, a.limit_heavy, count=False)
                c.runs.append(r)
                self.log(f"N={n:<6} floor {name:<8} rep {rep}: {r.wall * 1000:10.1f} ms rc={r.rc}")
        shutil.rmtree(d, ignore_errors=True)

    def runner_phases(self, n, d, reps, key="phases", cmd=None):
        env = dict(self.ctx.base_env, RUNNER_TIMINGS="1")
        rows = []
        for _ in range(reps):
            r = self.timed(None, cmd or self.tools[0].all_cmd(), d, env, self.a.limit_light, count=False)
            ph = {}
            for line in r.stderr.splitlines():
                m = re.match(r"timing:\s+(.+?)\s+([0-9.]+)\s*ms", line)
                if m:
                    ph[m.group(1).strip()] = float(m.group(2))
            ph["(wall, measured outside)"] = r.wall * 1000
            rows.append(ph)
        self.phases.setdefault(n, {})[key] = rows

    def profile(self, n, d):
        a = self.a
        out = os.path.join(a.tmp, f"callgrind.{n}.out")
        self.log(f"N={n}: callgrind of runner's no-op")
        r = self.timed(None, ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *self.tools[0].all_cmd()],
                       d, self.ctx.base_env, a.limit_heavy * 2, count=False)
        if r.rc != 0 or not os.path.exists(out):
            self.profiles[n] = f"callgrind failed (rc={r.rc}): {r.stderr[-500:]}"
            return
        texts = []
        for incl in ("no", "yes"):
            p = subprocess.run(["timeout", "300", "callgrind_annotate", f"--inclusive={incl}", "--threshold=100", "--auto=no", out],
                               capture_output=True, text=True)
            texts.append("\n".join(p.stdout.splitlines()[:400]))
        self.profiles[n] = {"exclusive": texts[0], "inclusive": texts[1], "wall_under_valgrind": r.wall}
        # the no-op's CPU/syscall profile from perf stat (software counters: this VM has no PMU)
        p = subprocess.run(["timeout", "300", "perf", "stat", "-r", "5", "-e",
                            "task-clock,context-switches,cpu-migrations,page-faults", *self.tools[0].all_cmd()],
                           cwd=d, capture_output=True, text=True)
        txt = p.stderr
        if "Performance counter stats" in txt:
            txt = txt[txt.index("Performance counter stats"):]
        self.profiles[n]["perf_stat"] = txt
        p = subprocess.run(["timeout", "300", "strace", "-f", "-c", "-o", os.path.join(a.tmp, f"strace.{n}"),
                            *self.tools[0].all_cmd()], cwd=d, capture_output=True, text=True)
        try:
            with open(os.path.join(a.tmp, f"strace.{n}")) as f:
                self.profiles[n]["strace"] = f.read()
        except OSError:
            pass

    def save(self):
        js = {
            "data": {str(n): {s: {t: c.to_json() for t, c in sc.items()} for s, sc in v.items()}
                     for n, v in self.data.items()},
            "floors": {str(n): {k: c.to_json() for k, c in v.items()} for n, v in self.floors.items()},
            "phases": {str(n): v for n, v in self.phases.items()},
            "profiles": {str(n): v for n, v in self.profiles.items()},
            "checks": {str(n): v for n, v in self.checks.items()},
            "history": {str(n): v for n, v in self.history.items()},
            "closure": {str(n): v for n, v in getattr(self, "closure", {}).items()},
            "meta": self.meta(),
        }
        with open(self.a.json, "w") as f:
            json.dump(js, f, indent=1)

    def meta(self):
        a = self.a
        return {"date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "load_before": a.load_before,
                "load_after": open("/proc/loadavg").read().strip(), "versions": a.versions,
                "cpu": cpu_model(), "nproc": os.cpu_count(), "kernel": platform.release(),
                "mem": mem_total(), "sizes": a.sizes, "jobs": a.jobs, "repro": a.repro,
                "reps_light": a.reps_light, "reps_heavy": a.reps_heavy, "limit_light": a.limit_light,
                "limit_heavy": a.limit_heavy, "heavy_budget": a.heavy_budget,
                "elapsed_s": round(time.time() - self.t_start)}


def history_lines(d):
    try:
        with open(os.path.join(d, ".runner", "history.jsonl"), "rb") as f:
            return sum(1 for _ in f)
    except OSError:
        return 0


def cpu_model():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor()


def mem_total():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal"):
                return f"{int(line.split()[1]) // 1024} MiB"
    return "?"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runner", required=True)
    ap.add_argument("--turbo", default="")
    ap.add_argument("--statfloor", required=True)
    ap.add_argument("--b3floor", required=True)
    ap.add_argument("--gen", required=True)
    ap.add_argument("--measure", required=True, help="the compiled bench/measure.c")
    ap.add_argument("--tmp", required=True)
    ap.add_argument("--json", required=True)
    ap.add_argument("--sizes", default="200,2000,10000")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--reps-light", type=int, default=5)
    ap.add_argument("--reps-heavy", type=int, default=3)
    ap.add_argument("--limit-light", type=float, default=120)
    ap.add_argument("--limit-heavy", type=float, default=600)
    ap.add_argument("--heavy-budget", type=float, default=90,
                    help="stop repeating a (tool, scenario) once its runs took this many seconds")
    ap.add_argument("--make-max", type=int, default=10**9)
    ap.add_argument("--tools", default="", help="comma-separated subset (runner is always measured)")
    ap.add_argument("--history-runs", type=int, default=20,
                    help="untimed no-ops before the 'no-op after more runs' scenario")
    ap.add_argument("--callgrind-sizes", default="2000,10000")
    ap.add_argument("--npm-version", default="10.9.0")
    ap.add_argument("--real-npm", default="npm")
    ap.add_argument("--load-before", default="")
    ap.add_argument("--versions", default="{}")
    ap.add_argument("--repro", default="bench/run.sh")
    a = ap.parse_args()
    global MEASURE
    MEASURE = a.measure
    a.sizes = [int(s) for s in a.sizes.split(",") if s]
    a.callgrind_sizes = {int(s) for s in a.callgrind_sizes.split(",") if s}
    a.versions = json.loads(a.versions)
    os.makedirs(os.path.join(a.tmp, "logs"), exist_ok=True)
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    b = Bench(a)
    for n in a.sizes:
        b.size(n)
    b.save()
    b.log("done")


if __name__ == "__main__":
    main()
