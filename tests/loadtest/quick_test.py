#!/usr/bin/env python3
"""quick_test.py ECHOD ECHOLOAD: what CI does, as a meson test: `loadtest/run --quick` into a
temporary directory, then `loadtest/check_outputs.py` on it; then `loadtest/ratio --quick`, which must
run clean and print a ratio for every case. Exits 77 (meson: skipped) when wrk
or gnuplot is missing; nginx may be missing (its rows are then "skipped" with a note).
"""
import os
import shutil
import subprocess
import sys
import tempfile

LOADTEST = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "loadtest")


def main(argv):
    if len(argv) != 2:
        print("usage: quick_test.py ECHOD ECHOLOAD", file=sys.stderr)
        return 2
    missing = [t for t in ("wrk", "gnuplot", "taskset") if not shutil.which(t)]
    if missing:
        print(f"skipped: {', '.join(missing)} not installed (ECHOD_SETUP_LOADTEST=1 scripts/setup.sh)")
        return 77
    with tempfile.TemporaryDirectory(prefix="loadtest-quick.") as out:
        run = subprocess.run([sys.executable, os.path.join(LOADTEST, "run"), "--quick", "--out", out,
                              "--echod", argv[0], "--echoload", argv[1]], timeout=170)
        check = subprocess.run([sys.executable, os.path.join(LOADTEST, "check_outputs.py"), out])
        if run.returncode != 0:
            with open(os.path.join(out, "results.md")) as f:
                print(f.read())  # the table and its notes say which case went wrong
        if run.returncode or check.returncode:
            return run.returncode or check.returncode
        return ratio_smoke(out, argv)


def ratio_smoke(out, argv):
    r = subprocess.run([sys.executable, os.path.join(LOADTEST, "ratio"), "--quick",
                        "--out", os.path.join(out, "ratio"), "--echod", argv[0],
                        "--echoload", argv[1]], capture_output=True, text=True, timeout=120)
    print(r.stdout + r.stderr)
    rows = [l for l in r.stdout.splitlines() if l.startswith("| 1 x 64 B |")]
    if r.returncode != 0 or not rows or "—" in rows[0]:
        print("loadtest/ratio --quick: no clean ratio for 1 x 64 B", file=sys.stderr)
        return r.returncode or 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
