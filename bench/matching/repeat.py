#!/usr/bin/env python3
"""Run bench.py several times and report the median (and range) of each engine's commands/s.

The benchmark machine has 2 noisy cores, so one run proves little: every bench.py run is
already best-of---runs per engine; this repeats whole runs and takes medians across them.

    python repeat.py --times 5 -- --engines null,ref,mycrypto --runs 3
    python repeat.py --times 5 -- --engines null,ref,mycrypto --runs 3 --skew 50

Arguments after "--" go to bench.py unchanged. Per-run JSON results are kept as
results_repeat_<i>.json next to this file (ignored by git, like results.json).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    argv = sys.argv[1:]
    rest = []
    if "--" in argv:
        i = argv.index("--")
        argv, rest = argv[:i], argv[i + 1:]
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--times", type=int, default=5)
    a = ap.parse_args(argv)
    per_engine, matches, ratios = {}, {}, {}
    for i in range(a.times):
        out = os.path.join(HERE, f"results_repeat_{i}.json")
        cmd = [sys.executable, os.path.join(HERE, "bench.py"), *rest, "--out", out]
        print(f"[{i + 1}/{a.times}] {' '.join(cmd[1:])}", file=sys.stderr, flush=True)
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        with open(out) as f:
            rep = json.load(f)
        engines = rep["engines"]
        for name, r in engines.items():
            if "error" in r:
                continue
            per_engine.setdefault(name, []).append(r["cmds_per_sec"])
            matches.setdefault(name, set()).add(r["matches_expected"])
        if "ref" in engines and "cmds_per_sec" in engines["ref"]:
            for name, r in engines.items():
                if "cmds_per_sec" in r:
                    ratios.setdefault(name, []).append(r["cmds_per_sec"] / engines["ref"]["cmds_per_sec"])
    print(f"\n{a.times} runs of: bench.py {' '.join(rest)}\n")
    print("| engine | median commands/s | min | max | median ratio to ref (same run) | matches reference |")
    print("|---|---:|---:|---:|---:|---|")
    for name, v in per_engine.items():
        ratio = f"{statistics.median(ratios[name]):.2f}x" if name in ratios else "-"
        print(f"| {name} | {statistics.median(v):,.0f} | {min(v):,.0f} | {max(v):,.0f} | {ratio} | "
              f"{', '.join(str(m) for m in sorted(matches[name], key=str))} |")


if __name__ == "__main__":
    main()
