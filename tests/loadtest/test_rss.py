#!/usr/bin/env python3
"""test_rss.py [ECHOD]: loadtest/rss, the idle-connection memory mode.

Unit: the /proc/PID/status parser and the table. With ECHOD: the real script on 200 idle
connections per backend (io_uring too wherever the kernel accepts io_uring_setup), whose CSV and
JSON must agree and hold a plausible figure: more than nothing, less than a whole 64 KiB stack.
"""
import csv
import json
import os
import subprocess
import sys
import tempfile
import unittest

LOADTEST = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "loadtest")
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, LOADTEST)
from ltlib import rss, tools  # noqa: E402

ECHOD = os.path.abspath(sys.argv.pop(1)) if len(sys.argv) > 1 else None

STATUS = """\
Name:\techod
VmPeak:\t  123456 kB
VmRSS:\t    4356 kB
RssAnon:\t    1312 kB
RssFile:\t    3044 kB
RssShmem:\t       0 kB
"""


class ParseTest(unittest.TestCase):
    def test_status_fields_in_kib(self):
        self.assertEqual(rss.parse_status(STATUS),
                         {"VmRSS": 4356, "RssAnon": 1312, "RssFile": 3044})

    def test_a_missing_field_is_named(self):
        with self.assertRaisesRegex(ValueError, "RssAnon"):
            rss.parse_status("VmRSS:\t 1 kB\nRssFile:\t 1 kB\n")

    def test_own_status_parses(self):
        self.assertGreater(rss.memory_kib(os.getpid())["VmRSS"], 0)

    def test_markdown_row(self):
        row = dict.fromkeys(rss.COLUMNS, "")
        row.update(backend="epoll", connections=10000, rss_before_kib=3396, rss_after_kib=45196,
                   kib_per_connection=4.18, anon_kib_per_connection=4.18,
                   rss_per_connection_kib=4.52, status="ok")
        self.assertIn("| epoll | 10,000 | 3396 | 45196 | 4.18 | 4.18 | 4.52 | ok |",
                      rss.markdown([row]).splitlines())


@unittest.skipUnless(ECHOD, "needs the echod binary as argument")
class ScriptTest(unittest.TestCase):
    def test_200_idle_connections_per_backend(self):
        with tempfile.TemporaryDirectory(prefix="loadtest-rss.") as out:
            r = subprocess.run([sys.executable, os.path.join(LOADTEST, "rss"), "--connections",
                                "200", "--out", out, "--echod", ECHOD],
                               capture_output=True, text=True, timeout=100)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            with open(os.path.join(out, "rss.csv")) as f:
                rows = list(csv.DictReader(f))
            with open(os.path.join(out, "rss.json")) as f:
                doc = json.load(f)
        want = ["epoll"] + (["io_uring"] if tools.kernel_has_io_uring() else [])
        self.assertEqual([r["backend"] for r in rows], want)
        self.assertEqual([r["backend"] for r in doc["rows"]], want)
        for row, jrow in zip(rows, doc["rows"]):
            self.assertEqual(row["status"], "ok", row["note"])
            self.assertEqual(int(row["connections"]), 200)
            per = float(row["kib_per_connection"])
            self.assertEqual(per, jrow["kib_per_connection"])
            # Each connection holds a coroutine that has run on its own stack: not nothing...
            self.assertGreater(per, 1.0, row)
            # ...but an idle one touches a small part of its 64 KiB stack.
            self.assertLess(per, 64.0, row)


if __name__ == "__main__":
    unittest.main(verbosity=1)
