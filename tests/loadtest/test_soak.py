#!/usr/bin/env python3
"""Unit tests for the soak verdict (loadtest/ltlib/soak.py) on made-up samples, and for the /proc
readers on this very process. Needs no echod."""
import os
import sys
import unittest

LOADTEST = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "loadtest")
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, LOADTEST)
from ltlib import soak  # noqa: E402

MIB = 1024


def series(rss_kib, fds, pids=(101, 102), t0=0, step=3):
    """Samples at t0, t0+step, ...: every worker in `pids` with rss_kib[i] and fds[i]."""
    return [{"t": t0 + i * step, "workers": {p: (r, f) for p in pids}}
            for i, (r, f) in enumerate(zip(rss_kib, fds))]


def judge(samples, warmup=15):
    return soak.verdict(samples, warmup, rss_bound_kib=4 * MIB, fd_bound=8)


class VerdictTest(unittest.TestCase):
    def test_flat_passes(self):
        ok, lines = judge(series([50 * MIB] * 20, [1010] * 20))
        self.assertTrue(ok, lines)
        self.assertEqual(len(lines), 4)  # RSS and fds for each of two workers

    def test_growth_during_warmup_is_ignored(self):
        rss = [10 * MIB + i * 8 * MIB for i in range(5)] + [50 * MIB] * 15
        ok, lines = judge(series(rss, [1010] * 20))
        self.assertTrue(ok, lines)

    def test_steady_rss_growth_fails(self):
        rss = [50 * MIB + i * MIB for i in range(20)]  # 1 MiB per sample: ~10 MiB over the run
        ok, lines = judge(series(rss, [1010] * 20))
        self.assertFalse(ok)
        self.assertTrue(any(line.startswith("FAIL") and "RSS" in line for line in lines), lines)

    def test_fd_leak_fails(self):
        ok, lines = judge(series([50 * MIB] * 20, [1000 + 2 * i for i in range(20)]))
        self.assertFalse(ok)
        self.assertTrue(any(line.startswith("FAIL") and "fds" in line for line in lines), lines)

    def test_wobble_above_a_flat_floor_passes(self):
        # Churn connections open at some samples and not at others; buffers come and go.
        rss = [50 * MIB + (i % 3) * 6 * MIB for i in range(20)]
        fds = [1010 + (i % 2) * 40 for i in range(20)]
        ok, lines = judge(series(rss, fds))
        self.assertTrue(ok, lines)

    def test_growth_within_the_bound_passes(self):
        rss = [50 * MIB + i * 150 for i in range(20)]  # under 3 MiB in all
        ok, lines = judge(series(rss, [1010] * 20))
        self.assertTrue(ok, lines)

    def test_replaced_worker_fails(self):
        samples = series([50 * MIB] * 20, [1010] * 20)
        for s in samples[12:]:
            s["workers"] = {101: (50 * MIB, 1010), 103: (20 * MIB, 1010)}
        ok, lines = judge(samples)
        self.assertFalse(ok)
        self.assertIn("changed", lines[0])

    def test_too_few_samples_fails(self):
        ok, lines = judge(series([50 * MIB] * 8, [1010] * 8))  # 3 after a 15 s warm-up
        self.assertFalse(ok)
        self.assertIn("samples after", lines[0])

    def test_no_workers_fails(self):
        ok, lines = judge([{"t": 15 + i, "workers": {}} for i in range(10)])
        self.assertFalse(ok)


class ProcTest(unittest.TestCase):
    def test_reads_this_process(self):
        self.assertGreater(soak.rss_kib(os.getpid()), 1000)
        before = soak.fd_count(os.getpid())
        self.assertIsNotNone(before)
        with open(__file__):  # one more open fd than before
            self.assertEqual(soak.fd_count(os.getpid()), before + 1)

    def test_gone_process_reads_none(self):
        self.assertIsNone(soak.rss_kib(2 ** 22 + 1))
        self.assertIsNone(soak.fd_count(2 ** 22 + 1))


if __name__ == "__main__":
    unittest.main()
