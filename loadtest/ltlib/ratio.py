"""The ratio mode: echod's server CPU per message as a ratio to hand-written C loops.

Every server is started once and stays up; each case then runs against every server in turn,
rep after rep (A B A B), so slow drift on a shared machine hits all of them alike. A ratio is
taken within one rep (echod's rep i over the reference's rep i, measured seconds apart); the
table shows the median of those paired ratios and their range. Measures with sweep.Runner, so
pinning, CPU accounting and error checks are the sweep's own. Does not start the run or write
files other than the Runner's per-case output (loadtest/ratio does).
"""
import statistics

from . import sweep

# (label, connections, message bytes, messages in flight per connection)
CASES = [
    ("1 x 64 B", 1, 64, 1),
    ("100 x 64 B", 100, 64, 1),
    ("500 x 64 B", 500, 64, 1),
    ("5,000 x 64 B", 5000, 64, 1),
    ("100 x 64 B, 16 in flight", 100, 64, 16),
    ("100 x 4 KiB", 100, 4096, 1),
    ("50 x 100 KB", 50, 100000, 1),
]
QUICK_CASES = [CASES[0], CASES[4]]
COROUTINES = 8192  # echod's per-thread cap must hold the largest case's connections


def setups(backends, references):
    """Subjects (echod per backend, 1 process x 1 thread) then references (kinds)."""
    out = [sweep.setup("echod", backend=b, processes=1, threads=1, coroutines=COROUTINES,
                       label=f"echod {b}") for b in backends]
    return out + [sweep.setup(kind) for kind in references]


def measure(runner, servers, cases, reps):
    """Runs every case reps times against every started (setup, server) pair, interleaved.
    Returns {(case label, server label): [row per rep]}; a rep that failed keeps its row (its
    server_cpu_us_per_msg is then empty and summarize leaves it out)."""
    samples = {}
    for label, conns, size, pipeline in cases:
        for _ in range(reps):
            for s, server in servers:
                row = runner.run_point(server, dict(s, pipeline=pipeline), conns, size)
                samples.setdefault((label, s["label"]), []).append(row)
    return samples


def _value(row, col):
    v = row.get(col, "") if row else ""
    return float(v) if isinstance(v, (int, float)) and row.get("status") == "ok" else None


def spread(values):
    """(median, min, max) of the values that are there, or None when none is."""
    vs = [v for v in values if v is not None]
    return (statistics.median(vs), min(vs), max(vs)) if vs else None


def paired_ratios(subject_rows, ref_rows, col="server_cpu_us_per_msg"):
    """subject/reference per rep, for the reps where both measured."""
    out = []
    for a, b in zip(subject_rows, ref_rows):
        va, vb = _value(a, col), _value(b, col)
        if va is not None and vb:
            out.append(va / vb)
    return out


def summarize(samples, cases, subjects, references):
    """One dict per case: label, cpu {server: spread}, rate {server: spread},
    ratio {(subject, reference): spread of the paired CPU ratios}."""
    table = []
    for label, *_ in cases:
        rows = {name: samples.get((label, name), []) for name in subjects + references}
        table.append({
            "case": label,
            "cpu": {n: spread(_value(r, "server_cpu_us_per_msg") for r in rs)
                    for n, rs in rows.items()},
            "rate": {n: spread(_value(r, "msgs_per_sec") for r in rs) for n, rs in rows.items()},
            "ratio": {(s, r): spread(paired_ratios(rows[s], rows[r]))
                      for s in subjects for r in references},
        })
    return table


def _cell(sp, fmt):
    if sp is None:
        return "—"
    med, lo, hi = sp
    return fmt.format(med) if lo == hi else f"{fmt.format(med)} ({fmt.format(lo)}-{fmt.format(hi)})"


def markdown(table, subjects, references):
    """Two tables: server CPU µs/msg with the ratios, then msgs/s; medians with (min-max)."""
    pairs = [(s, r) for s in subjects for r in references]
    head = ["case"] + [f"{n} µs/msg" for n in references + subjects] + \
        [f"{s} / {r}" for s, r in pairs]
    out = ["| " + " | ".join(head) + " |", "| --- |" + " ---: |" * (len(head) - 1)]
    for t in table:
        cells = [t["case"]] + [_cell(t["cpu"][n], "{:.2f}") for n in references + subjects] + \
            [_cell(t["ratio"][p], "{:.2f}") for p in pairs]
        out.append("| " + " | ".join(cells) + " |")
    names = references + subjects
    out += ["", "| case | " + " | ".join(f"{n} msgs/s" for n in names) + " |",
            "| --- |" + " ---: |" * len(names)]
    for t in table:
        out.append("| " + " | ".join([t["case"]] + [_cell(t["rate"][n], "{:,.0f}")
                                                      for n in names]) + " |")
    return "\n".join(out) + "\n"
