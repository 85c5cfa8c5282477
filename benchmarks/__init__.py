"""Benchmarks at production scale, each against a floor measured in the same process and run.

    make bench                                   # every benchmark, full scale (several minutes)
    .venv/bin/python -m benchmarks --scale 0.05  # a quick run
    .venv/bin/python -m benchmarks --only ingest --only poll --repeats 5
    .venv/bin/python -m benchmarks --save        # also write benchmarks/results/<date>.md

`plan`, `ingest`, `price`, `poll`, `day` and `savings` live in `bench_<name>.py`, each with a
docstring saying what is measured and against which floor. Every time is the median of at least
three runs; `ratio` = project time / floor time. Results: `benchmarks/results/latest.json` (a list
of `{name, value, unit, floor_value, ratio, target, ok}`) and `latest.md`; commit the dated file of
a meaningful run so the trend stays visible.
"""
