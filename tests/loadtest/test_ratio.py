#!/usr/bin/env python3
"""Unit tests for loadtest/ltlib/ratio.py: the paired per-rep ratios, medians and ranges, what a
failed rep does to them, and the table loadtest/ratio prints. Needs no echod and no network.
"""
import os
import sys
import unittest

LOADTEST = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "loadtest")
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, LOADTEST)
from ltlib import ratio  # noqa: E402


def row(cpu, rate=1000.0, status="ok"):
    return {"server_cpu_us_per_msg": cpu, "msgs_per_sec": rate, "status": status}


CASES = [("100 x 64 B", 100, 64, 1), ("1 x 64 B", 1, 64, 1)]


class RatioTest(unittest.TestCase):
    def test_ratios_are_paired_per_rep(self):
        # Rep by rep echod is 0.5x, 1.0x, 2.0x the reference; the medians of the raw values
        # (2/2 = 1.0) would hide that spread, the paired ratios show it.
        echod = [row(1.0), row(2.0), row(4.0)]
        ref = [row(2.0), row(2.0), row(2.0)]
        self.assertEqual(ratio.paired_ratios(echod, ref), [0.5, 1.0, 2.0])
        self.assertEqual(ratio.spread(ratio.paired_ratios(echod, ref)), (1.0, 0.5, 2.0))

    def test_a_failed_rep_is_left_out_of_both_sides(self):
        echod = [row(1.0), row("", status="errors"), row(3.0)]
        ref = [row(2.0), row(2.0), row("", status="failed")]
        self.assertEqual(ratio.paired_ratios(echod, ref), [0.5])
        self.assertEqual(ratio.spread([None, 2.0, None, 4.0]), (3.0, 2.0, 4.0))
        self.assertIsNone(ratio.spread([None]))

    def test_summarize_and_markdown(self):
        samples = {
            ("100 x 64 B", "echod io_uring"): [row(0.9, 90.0), row(1.1, 110.0), row(1.0, 100.0)],
            ("100 x 64 B", "c-epoll"): [row(1.0, 100.0), row(1.0, 100.0), row(1.0, 100.0)],
            ("1 x 64 B", "c-epoll"): [row(5.0)],  # echod never measured here
        }
        table = ratio.summarize(samples, CASES, ["echod io_uring"], ["c-epoll"])
        first = table[0]
        self.assertEqual(first["case"], "100 x 64 B")
        self.assertEqual(first["ratio"][("echod io_uring", "c-epoll")], (1.0, 0.9, 1.1))
        self.assertEqual(first["rate"]["echod io_uring"], (100.0, 90.0, 110.0))
        self.assertIsNone(table[1]["ratio"][("echod io_uring", "c-epoll")])
        text = ratio.markdown(table, ["echod io_uring"], ["c-epoll"])
        lines = text.splitlines()
        self.assertEqual(lines[0], "| case | c-epoll µs/msg | echod io_uring µs/msg | "
                                   "echod io_uring / c-epoll |")
        self.assertIn("| 100 x 64 B | 1.00 | 1.00 (0.90-1.10) | 1.00 (0.90-1.10) |", lines)
        self.assertIn("| 1 x 64 B | 5.00 | — | — |", lines)
        self.assertIn("| 100 x 64 B | 100 | 100 (90-110) |", lines)

    def test_setups_name_each_server_once(self):
        plan = ratio.setups(["epoll", "io_uring"], ["c-epoll"])
        self.assertEqual([s["label"] for s in plan], ["echod epoll", "echod io_uring", "c-epoll"])
        biggest = max(c for _, c, _, _ in ratio.CASES)
        self.assertGreaterEqual(plan[0]["coroutines"], biggest)


if __name__ == "__main__":
    unittest.main(verbosity=1)
