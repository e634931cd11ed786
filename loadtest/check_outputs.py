#!/usr/bin/env python3
"""check_outputs.py DIR: is what loadtest/run wrote into DIR complete and well-formed?

results.csv: the expected header, at least one row per kind (echod, c-epoll, c-uring, echod-http, nginx;
a "skipped" row counts, so a machine without nginx still passes, with its note), numbers that
parse in every "ok" row. results.md: the machine header and a table with a row per case. PNGs:
the signature, an IHDR chunk with a correct CRC and sane dimensions, an IEND chunk, a plausible
size. With DIR from loadtest/tune, echod.tuned.json and tune.md are checked instead.
Does not judge the numbers themselves. Exit 0 when all is well, 1 with one line per problem.
"""
import csv
import json
import os
import struct
import sys
import zlib

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ltlib.sweep import COLUMNS, KINDS  # noqa: E402

PNGS = ("throughput.png", "p99.png", "http.png")
NUMERIC_WHEN_OK = ("connections", "msgs_per_sec", "messages", "p50_us", "p99_us", "errors",
                   "server_cpu_us_per_msg")
MACHINE_FIELDS = ("cores", "kernel", "cpu", "date", "echod")
TUNED_FIELDS = ("backend", "processes", "threads", "coroutines", "listen", "service")


def check_png(path):
    """Problems with one PNG file (empty list when it is a real, complete PNG)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        return [f"{path}: {e.strerror}"]
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return [f"{path}: not a PNG (bad signature)"]
    if len(data) < 2048:  # an empty 1-panel gnuplot PNG is already ~10 KB
        return [f"{path}: only {len(data)} bytes: no plot in it"]
    length, ctype = struct.unpack(">I4s", data[8:16])
    if ctype != b"IHDR" or length != 13:
        return [f"{path}: first chunk is {ctype!r}, not IHDR"]
    ihdr = data[16:29]
    (crc,) = struct.unpack(">I", data[29:33])
    if zlib.crc32(b"IHDR" + ihdr) != crc:
        return [f"{path}: IHDR CRC mismatch"]
    width, height = struct.unpack(">II", ihdr[:8])
    problems = []
    if not (200 <= width <= 10000 and 200 <= height <= 10000):
        problems.append(f"{path}: implausible size {width}x{height}")
    if data[-12:-8] != b"\x00\x00\x00\x00" or data[-8:-4] != b"IEND":
        problems.append(f"{path}: no IEND chunk at the end (truncated?)")
    return problems


def check_csv(path):
    problems, rows = [], []
    try:
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            header = reader.fieldnames or []
            rows = list(reader)
    except OSError as e:
        return [f"{path}: {e.strerror}"], []
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        problems.append(f"{path}: missing columns {', '.join(missing)}")
        return problems, rows
    for kind in KINDS:
        if not any(r["kind"] == kind for r in rows):
            problems.append(f"{path}: no row of kind {kind}")
    for i, r in enumerate(rows, start=2):
        if r["status"] not in ("ok", "errors", "failed", "skipped"):
            problems.append(f"{path}:{i}: unknown status {r['status']!r}")
        if r["status"] == "skipped" and not r["note"]:
            problems.append(f"{path}:{i}: skipped without a note saying why")
        if r["status"] != "ok":
            continue
        for c in NUMERIC_WHEN_OK:
            try:
                float(r[c])
            except ValueError:
                problems.append(f"{path}:{i}: {c} is {r[c]!r}, not a number")
    if not any(r["status"] == "ok" for r in rows):
        problems.append(f"{path}: no case succeeded")
    return problems, rows


def check_md(path, n_rows):
    try:
        with open(path) as f:
            text = f.read()
    except OSError as e:
        return [f"{path}: {e.strerror}"]
    problems = [f"{path}: machine field '{k}' missing" for k in MACHINE_FIELDS
                if f"**{k}**" not in text]
    lines = text.splitlines()
    heads = [i for i, l in enumerate(lines[:-1]) if l.startswith("| ")
             and lines[i + 1].startswith("| ---")]
    if not heads:
        return problems + [f"{path}: no Markdown table"]
    body = 0
    for l in lines[heads[0] + 2:]:
        if not l.startswith("|"):
            break
        body += 1
    if n_rows is not None and body != n_rows:
        problems.append(f"{path}: table has {body} rows, results.csv has {n_rows}")
    return problems


def check_tune(d):
    problems = []
    try:
        with open(os.path.join(d, "echod.tuned.json")) as f:
            cfg = json.load(f)
        problems += [f"echod.tuned.json: no '{k}'" for k in TUNED_FIELDS if k not in cfg]
    except (OSError, ValueError) as e:
        problems.append(f"echod.tuned.json: {e}")
    problems += check_md(os.path.join(d, "tune.md"), None)
    return problems


def main(argv):
    if len(argv) != 1:
        print("usage: check_outputs.py DIR", file=sys.stderr)
        return 2
    d = argv[0]
    if os.path.exists(os.path.join(d, "echod.tuned.json")) and \
            not os.path.exists(os.path.join(d, "results.csv")):
        problems = check_tune(d)
    else:
        problems, rows = check_csv(os.path.join(d, "results.csv"))
        problems += check_md(os.path.join(d, "results.md"), len(rows) if rows else None)
        for png in PNGS:
            problems += check_png(os.path.join(d, png))
    for p in problems:
        print(f"check_outputs: {p}", file=sys.stderr)
    if not problems:
        print(f"check_outputs: {d}: all outputs present and well-formed")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
