"""`python -m benchmarks [--only NAME ...] [--scale F] [--repeats N] [--save]`: run the benchmarks.

Writes `benchmarks/results/latest.json` (a list of `{name, value, unit, floor_value, ratio,
target, ok}`) and `latest.md`, and prints the table. `--save` also writes
`benchmarks/results/<date>.md`, the file to commit so the trend stays visible.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from benchmarks.harness import RESULTS_DIR, BenchServer, Figure

NAMES = ("plan", "ingest", "price", "poll", "day", "savings", "redaction", "partitions")


def _runner(name: str) -> Callable[[BenchServer, float, int], list[Figure]]:
    import importlib

    return importlib.import_module(f"benchmarks.bench_{name}").run


def _uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        load = os.getloadavg()
        return f"load average: {load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f}"


def _git_rev() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
        return out + (" (with uncommitted changes)" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _fmt(value: object) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "**NO**"
    if isinstance(value, float):
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:.4g}" if abs(value) < 1 else f"{value:,.2f}"
    return str(value)


def table(figures: list[Figure], baseline: dict[str, dict] | None = None) -> str:
    """The figures as a Markdown table; with a baseline (an earlier latest.json), its value and
    ratio in columns of their own."""
    before = "before: value | before: ratio | " if baseline is not None else ""
    rows = [
        f"| benchmark | {before}value | unit | floor | ratio | target | ok | notes |",
        "|---|"
        + ("---:|---:|" if baseline is not None else "")
        + "---:|---|---:|---:|---|---|---|",
    ]
    for f in figures:
        old = ""
        if baseline is not None:
            b = baseline.get(f.name) or {}
            old = f"{_fmt(b.get('value'))} | {_fmt(b.get('ratio'))} | "
        rows.append(
            f"| {f.name} | {old}{_fmt(f.value)} | {f.unit} | {_fmt(f.floor_value)} "
            f"| {_fmt(f.ratio)} | {f.target or '–'} | {_fmt(f.ok)} | {f.note} |"
        )
    return "\n".join(rows)


def markdown(figures: list[Figure], meta: dict, baseline: dict[str, dict] | None = None) -> str:
    lines = [
        f"# Benchmarks {meta['date']}",
        "",
        f"- scale {meta['scale']:g}, {meta['repeats']} runs per figure (median), "
        f"commit {meta['git']}",
        f"- machine: {meta['cpus']} CPUs, Python {meta['python']}; load before: "
        f"`{meta['load_before']}`; after: `{meta['load_after']}`",
        f"- wall time of the whole run: {meta['wall_s']:.0f} s",
        "",
        table(figures, baseline),
        "",
    ]
    if baseline is not None:
        lines[5:5] = [f"- before: {meta['baseline']}"]
    if meta.get("errors"):
        lines += ["## Errors", ""] + [f"- {e}" for e in meta["errors"]] + [""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "--only", action="append", choices=NAMES, help="run only this benchmark (repeatable)"
    )
    parser.add_argument("--scale", type=float, default=1.0, help="size factor (e.g. 0.05)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per figure (>= 3)")
    parser.add_argument(
        "--save", action="store_true", help="also write benchmarks/results/<date>.md"
    )
    parser.add_argument(
        "--baseline",
        metavar="JSON",
        help="an earlier latest.json whose figures are shown as 'before' columns",
    )
    args = parser.parse_args(argv)
    if args.repeats < 3:
        parser.error("--repeats must be at least 3 (every figure is a median of >= 3 runs)")
    if args.scale <= 0:
        parser.error("--scale must be positive")
    names = [n for n in NAMES if not args.only or n in args.only]
    baseline = None
    if args.baseline:
        baseline = {f["name"]: f for f in json.loads(Path(args.baseline).read_text())}

    started = time.monotonic()
    meta = {
        "date": dt.date.today().isoformat(),
        "scale": args.scale,
        "repeats": args.repeats,
        "git": _git_rev(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load_before": _uptime(),
        "errors": [],
        "baseline": args.baseline,
    }
    print(f"benchmarks {', '.join(names)} at scale {args.scale:g} ({meta['load_before']})")
    figures: list[Figure] = []
    server = BenchServer()
    try:
        for name in names:
            print(f"== {name}", flush=True)
            t0 = time.monotonic()
            try:
                figures += _runner(name)(server, args.scale, args.repeats)
            except Exception as exc:  # one broken benchmark must not hide the others' figures
                traceback.print_exc()
                summary = str(exc).splitlines()[0][:200] if str(exc) else ""
                meta["errors"].append(f"{name}: {type(exc).__name__}: {summary}")
                figures.append(
                    Figure(
                        name=name,
                        value=None,
                        unit="",
                        ok=False,
                        note=f"failed: {type(exc).__name__}: {summary}",
                    )
                )
            print(f"   {name} done in {time.monotonic() - t0:.0f} s", flush=True)
    finally:
        server.close()
    meta["load_after"] = _uptime()
    meta["wall_s"] = time.monotonic() - started

    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "latest.json").write_text(
        json.dumps([f.as_json() for f in figures], indent=2) + "\n"
    )
    md = markdown(figures, meta, baseline)
    (RESULTS_DIR / "latest.md").write_text(md)
    if args.save:
        (RESULTS_DIR / f"{meta['date']}.md").write_text(md)
    print()
    print(table(figures, baseline))
    print(f"\nload after: {meta['load_after']}")
    # A missed target is a figure to act on, not a failure of the run; a benchmark that crashed is.
    return 1 if meta["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
