#!/usr/bin/env python3
"""Generate a synthetic gate workload (extended copy of ../shared/bench/gen.py).

The graph is the shared generator's: N gates in layers of about sqrt(N); every gate outside the
first layer needs two gates of the layer before (chosen with the same seeded RNG calls). Gate i
copies its own 4 input files (~2 KB each) into out/gi.txt and appends a checksum line per
dependency output. The same graph is written as gates.toml, build.ninja and a Makefile, and, in
this copy, also as a single-package Turborepo workspace (package.json whose scripts are the
gates, turbo.json with per-task dependsOn / inputs / outputs, and a task `all` that depends on
every gate).

Differences from the shared generator:
- input bytes come from `random.choices` (one call per file) instead of one `random.choice`
  per byte: same alphabet, same sizes, ~10x faster at 10,000 gates; the bytes differ, the DAG
  is the same (the dependency draws use the RNG before any content is drawn, exactly as the
  shared generator does);
- `--extras DIR` writes bench-only files outside the workload: layers/NNNN.txt (one gate
  command per line, for the "gate commands" floor) and scripts/<gate>.sh (each gate's command,
  used by the npm shim that seeds turbo's cache when `npm run` is too slow; see bench.py) and
  graph.json (every gate's needs, to count what a change must re-run);
- `--turbo` adds package.json, turbo.json and .gitignore to the workload.

usage: gen.py N OUTDIR [--seed S] [--turbo] [--npm-version V] [--extras DIR]
"""
import argparse
import json
import math
import os
import random


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("n", type=int)
    ap.add_argument("outdir")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--turbo", action="store_true", help="also write package.json + turbo.json")
    ap.add_argument("--npm-version", default="10.9.0", help="for package.json's packageManager")
    ap.add_argument("--extras", help="folder for bench-only files (layers/, scripts/)")
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    n, out = a.n, a.outdir
    width = max(1, int(math.sqrt(n)))
    names = [f"g{i:05d}" for i in range(n)]
    deps = []
    for i in range(n):
        layer = i // width
        if layer == 0:
            deps.append([])
        else:
            prev = range((layer - 1) * width, min(layer * width, n))
            deps.append(sorted({names[j] for j in rnd.sample(list(prev), min(2, len(prev)))}))
    os.makedirs(os.path.join(out, "out"), exist_ok=True)
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789 \n"
    for i, name in enumerate(names):
        d = os.path.join(out, "in", name)
        os.makedirs(d, exist_ok=True)
        for k in range(4):
            with open(os.path.join(d, f"f{k}.txt"), "w") as f:
                f.write("".join(rnd.choices(alphabet, k=2048)))

    def cmd(i):
        own = " ".join(f"in/{names[i]}/f{k}.txt" for k in range(4))
        dep = " ".join(f"out/{d}.txt" for d in deps[i])
        tail = f" && cksum {dep} >> out/{names[i]}.txt" if dep else ""
        return f"cat {own} > out/{names[i]}.txt{tail}"

    def srcs(i):
        return " ".join([f"in/{names[i]}/f{k}.txt" for k in range(4)] + [f"out/{d}.txt" for d in deps[i]])

    with open(os.path.join(out, "gates.toml"), "w") as f:
        f.write("version = 1\n\n")
        for i, name in enumerate(names):
            f.write(f"[gates.{name}]\nrun = \"{cmd(i)}\"\ninputs = [\"in/{name}/*.txt\"]\n")
            if deps[i]:
                f.write("needs = [" + ", ".join(f'"{d}"' for d in deps[i]) + "]\n")
            f.write(f"artifacts = [\"out/{name}.txt\"]\n\n")
    with open(os.path.join(out, "build.ninja"), "w") as f:
        f.write("rule gate\n  command = $cmd\n\n")
        for i, name in enumerate(names):
            f.write(f"build out/{name}.txt: gate {srcs(i)}\n  cmd = {cmd(i)}\n")
    with open(os.path.join(out, "Makefile"), "w") as f:
        f.write("all: " + " ".join(f"out/{x}.txt" for x in names) + "\n\n")
        for i, name in enumerate(names):
            f.write(f"out/{name}.txt: {srcs(i)}\n\t{cmd(i)}\n\n")

    if a.turbo:
        # One package; each gate is a script; each turbo task depends on the same-package tasks
        # of its needs (no `^`), hashes its own input glob and caches its one output.
        pkg = {
            "name": "bench",
            "version": "0.0.0",
            "private": True,
            "packageManager": f"npm@{a.npm_version}",
            "scripts": {name: cmd(i) for i, name in enumerate(names)},
        }
        tasks = {}
        for i, name in enumerate(names):
            tasks[name] = {"dependsOn": deps[i], "inputs": [f"in/{name}/*.txt"], "outputs": [f"out/{name}.txt"]}
        tasks["all"] = {"dependsOn": list(names), "cache": False}
        with open(os.path.join(out, "package.json"), "w") as f:
            json.dump(pkg, f, indent=1)
            f.write("\n")
        with open(os.path.join(out, "turbo.json"), "w") as f:
            json.dump({"$schema": "https://turborepo.com/schema.json", "tasks": tasks}, f, indent=1)
            f.write("\n")
        with open(os.path.join(out, ".gitignore"), "w") as f:
            f.write("out/\n.turbo/\nnode_modules/\ncache/\n.runner/\n.ninja_log\n.ninja_deps\n")

    if a.extras:
        layers = os.path.join(a.extras, "layers")
        scripts = os.path.join(a.extras, "scripts")
        os.makedirs(layers, exist_ok=True)
        os.makedirs(scripts, exist_ok=True)
        for layer in range((n + width - 1) // width):
            with open(os.path.join(layers, f"{layer:04d}.txt"), "w") as f:
                for i in range(layer * width, min((layer + 1) * width, n)):
                    f.write(cmd(i) + "\n")
        for i, name in enumerate(names):
            with open(os.path.join(scripts, f"{name}.sh"), "w") as f:
                f.write(cmd(i) + "\n")
        with open(os.path.join(a.extras, "graph.json"), "w") as f:
            json.dump({"names": names, "deps": deps}, f)


if __name__ == "__main__":
    main()
