#!/usr/bin/env python3
"""Writes the benchmark workloads, the same work for every tool.

    gen.py OUT_DIR STAMP FANOUT CHAIN FOREACH SNAKE

OUT_DIR gets:
  items/fanout/<i>, items/foreach/<i>   empty files for the foreach globs
  dags/*.yaml                           the synthflow DAGs
  make/{fanout,chain,chain-true,foreach}.mk   GNU make
  ninja/fanout.ninja                    ninja
  snake/Snakefile                       snakemake (SNAKE-way fan-out)

Workloads (N = the size given):
  fanout   root -> N no-op tasks -> sink        (a)
  chain    N tasks in a line                    (b)
  foreach  N no-op tasks from one foreach       (c)
A no-op task runs `true`; the chain also exists with STAMP (bench/stamp.c)
so that the gap between tasks can be measured outside the engine.
"""

import os
import sys


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def items(out, name, n):
    d = os.path.join(out, "items", name)
    os.makedirs(d, exist_ok=True)
    for i in range(n):
        open(os.path.join(d, f"{i:06d}"), "w").close()
    return d


def dags(out, stamp, fanout, chain, foreach):
    d = os.path.join(out, "dags")
    fan_items = items(out, "fanout", fanout)
    each_items = items(out, "foreach", foreach)
    write(f"{d}/bench-fanout.yaml",
          "id: bench-fanout\ntasks:\n"
          "  root: {run: \"true\"}\n"
          f"  fan: {{needs: [root], foreach: \"{fan_items}/*\", run: \"true\"}}\n"
          "  sink: {needs: [fan], run: \"true\"}\n")
    lines = ["id: bench-fanout-tasks", "tasks:", "  root: {run: \"true\"}"]
    lines += [f"  t{i:05d}: {{needs: [root], run: \"true\"}}" for i in range(fanout)]
    lines.append("  sink:\n    run: \"true\"\n    needs:")
    lines += [f"      - t{i:05d}" for i in range(fanout)]
    write(f"{d}/bench-fanout-tasks.yaml", "\n".join(lines) + "\n")
    for name, cmd in (("bench-chain", lambda i: "true"),
                      ("bench-chain-stamp", lambda i: f"{stamp} {out}/stamps-sf {i}")):
        lines = [f"id: {name}", "tasks:", f"  t00000: {{run: \"{cmd(0)}\"}}"]
        lines += [f"  t{i:05d}: {{needs: [t{i - 1:05d}], run: \"{cmd(i)}\"}}"
                  for i in range(1, chain)]
        write(f"{d}/{name}.yaml", "\n".join(lines) + "\n")
    write(f"{d}/bench-foreach.yaml",
          "id: bench-foreach\ntasks:\n"
          f"  each: {{foreach: \"{each_items}/*\", run: \"true\"}}\n")


def makefiles(out, stamp, fanout, chain, foreach):
    d = os.path.join(out, "make")
    # explicit rules: make skips implicit-rule search for .PHONY targets
    t = [f"t{i}" for i in range(fanout)]
    mk = ["all: sink", "sink: " + " ".join(t), "\ttrue", "root:", "\ttrue"]
    for x in t:
        mk += [f"{x}: root", "\ttrue"]
    mk.append(".PHONY: all sink root " + " ".join(t))
    write(f"{d}/fanout.mk", "\n".join(mk) + "\n")
    mk = ["all: c" + str(chain - 1), "c0:", f"\t{stamp} {out}/stamps-make 0"]
    for i in range(1, chain):
        mk += [f"c{i}: c{i - 1}", f"\t{stamp} {out}/stamps-make {i}"]
    mk.append(".PHONY: all " + " ".join(f"c{i}" for i in range(chain)))
    write(f"{d}/chain.mk", "\n".join(mk) + "\n")
    mk = ["all: c" + str(chain - 1), "c0:", "\ttrue"]
    for i in range(1, chain):
        mk += [f"c{i}: c{i - 1}", "\ttrue"]
    mk.append(".PHONY: all " + " ".join(f"c{i}" for i in range(chain)))
    write(f"{d}/chain-true.mk", "\n".join(mk) + "\n")
    t = [f"e{i}" for i in range(foreach)]
    mk = ["all: " + " ".join(t)]
    for x in t:
        mk += [f"{x}:", "\ttrue"]
    mk.append(".PHONY: all " + " ".join(t))
    write(f"{d}/foreach.mk", "\n".join(mk) + "\n")


def ninjafile(out, fanout):
    # outputs are never written, so every build runs everything again
    t = [f"t{i}" for i in range(fanout)]
    nj = ["rule run", "  command = true", "build root: run"]
    nj += [f"build {x}: run root" for x in t]
    nj += ["build sink: run " + " ".join(t), "default sink"]
    write(f"{out}/ninja/fanout.ninja", "\n".join(nj) + "\n")


def snakefile(out, n):
    # snakemake needs output files; `touch` is its nearest no-op
    write(f"{out}/snake/Snakefile", f"""N = {n}
rule all:
    input: "sink"
rule sink:
    input: expand("t/{{i}}", i=range(N))
    output: "sink"
    shell: "touch {{output}}"
rule fan:
    input: "root"
    output: "t/{{i}}"
    shell: "touch {{output}}"
rule root:
    output: "root"
    shell: "touch {{output}}"
""")


def main(argv):
    if len(argv) != 7:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        sys.exit(2)
    out, stamp = os.path.abspath(argv[1]), os.path.abspath(argv[2])
    fanout, chain, foreach, snake = (int(x) for x in argv[3:7])
    dags(out, stamp, fanout, chain, foreach)
    makefiles(out, stamp, fanout, chain, foreach)
    ninjafile(out, fanout)
    snakefile(out, snake)


if __name__ == "__main__":
    main(sys.argv)
