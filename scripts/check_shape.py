#!/usr/bin/env python3
"""Checks the shape of the tree (issue 8's "Done when"), with the standard library only.

Fails, naming every offender, when
  - a production C++ file (anything outside tests/) is over MAX_LINES lines, or
  - a run of MIN_RUN or more significant lines stands in two places outside tests/ (both named).

A line is significant when, with its white space folded, it is neither blank, nor a comment, nor
lone punctuation, nor an #include: the same lines `duplicates` passes over, so a shared include
list or a row of closing braces is not a finding. Matching is exact after folding; a run that is
the same but for names is for the `duplicates` tool and a reviewer, not for a gate.

Usage: check_shape.py [ROOT]   (ROOT defaults to the repository this script sits in)
"""

import os
import re
import sys

MAX_LINES = 500
MIN_RUN = 6
CPP_SUFFIXES = (".cpp", ".hpp", ".cc", ".hh", ".h")
# Not ours or not sources: build trees, VCS data, tests (they may repeat a setup on purpose).
SKIP_DIRS = {".git", "tests", "node_modules", "subprojects"}

_PUNCT_ONLY = re.compile(r"^[\s{}()\[\];,]*$")


def production_files(root):
    """Every C++ file under root outside tests/ and build trees, as paths relative to root."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(
            d
            for d in dirnames
            if d not in SKIP_DIRS
            and not os.path.isfile(os.path.join(dirpath, d, "meson-info", "meson-info.json"))
            and not d.startswith(".")
        )
        for name in sorted(filenames):
            if name.endswith(CPP_SUFFIXES):
                found.append(os.path.relpath(os.path.join(dirpath, name), root))
    return found


def significant_lines(text):
    """(line number, folded text) for each line that counts towards a repeated run."""
    out = []
    in_block_comment = False
    for number, raw in enumerate(text.splitlines(), start=1):
        line = " ".join(raw.split())
        if in_block_comment:
            if "*/" in line:
                in_block_comment = False
                line = line.split("*/", 1)[1].strip()
            else:
                continue
        if line.startswith("/*"):
            if "*/" not in line:
                in_block_comment = True
                continue
            line = line.split("*/", 1)[1].strip()
        if (
            not line
            or line.startswith("//")
            or line.startswith("#include")
            or _PUNCT_ONLY.match(line)
        ):
            continue
        out.append((number, line))
    return out


def long_files(root, files):
    problems = []
    for rel in files:
        with open(os.path.join(root, rel), encoding="utf-8", errors="replace") as f:
            count = sum(1 for _ in f)
        if count > MAX_LINES:
            problems.append(f"{rel}: {count} lines (over {MAX_LINES}): split it by purpose")
    return problems


def repeated_runs(root, files):
    """One finding per maximal run of MIN_RUN+ significant lines found again elsewhere."""
    lines = {}
    first_seen = {}  # window of MIN_RUN folded lines -> (file, index) where it first stands
    problems = []
    for rel in files:
        with open(os.path.join(root, rel), encoding="utf-8", errors="replace") as f:
            sig = significant_lines(f.read())
        lines[rel] = sig
        run = None  # [other file, first index there, last index there, first index here, last here]
        for i in range(len(sig) - MIN_RUN + 2):
            match = None
            if i <= len(sig) - MIN_RUN:
                window = tuple(text for _, text in sig[i : i + MIN_RUN])
                seen = first_seen.setdefault(window, (rel, i))
                # Overlapping itself is one run of equal rows (a table), not a second copy.
                if seen != (rel, i) and not (seen[0] == rel and i < seen[1] + MIN_RUN):
                    match = seen
            if match and run and run[0] == match[0] and i == run[4] + 1:
                run[1], run[2], run[4] = min(run[1], match[1]), max(run[2], match[1]), i
                continue
            if run:  # the run ended: report it once, as line ranges in both files
                other, a0, a1, b0, b1 = run
                a1, b1 = a1 + MIN_RUN - 1, b1 + MIN_RUN - 1
                problems.append(
                    f"{other}:{lines[other][a0][0]}-{lines[other][a1][0]} repeated at "
                    f"{rel}:{sig[b0][0]}-{sig[b1][0]} ({b1 - b0 + 1} lines): "
                    "write it once where both can reach it"
                )
            run = [match[0], match[1], match[1], i, i] if match else None
    return problems


def main(argv):
    root = argv[1] if len(argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
    root = os.path.abspath(root)
    files = production_files(root)
    problems = long_files(root, files) + repeated_runs(root, files)
    for p in problems:
        print(p)
    if problems:
        print(f"check_shape: {len(problems)} problem(s) in {len(files)} C++ files", file=sys.stderr)
        return 1
    print(f"check_shape: {len(files)} C++ files, none over {MAX_LINES} lines, no repeated runs")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
