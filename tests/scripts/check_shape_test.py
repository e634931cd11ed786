#!/usr/bin/env python3
"""Tests for scripts/check_shape.py: it runs over small temporary trees and must fail on a long
file or a repeated run (naming both places), and pass on a tree that has neither.
"""
import os
import subprocess
import sys
import tempfile
import unittest

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts",
                      "check_shape.py")


def block(tag, n=6):
    """n distinct significant lines, different for each tag."""
    return "".join(f"  int {tag}_{i} = compute({i}, \"{tag}\");\n" for i in range(n))


class ShapeTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.root = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def write(self, rel, text):
        path = os.path.join(self.root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)

    def check(self):
        r = subprocess.run([sys.executable, SCRIPT, self.root], capture_output=True, text=True,
                           timeout=60)
        return r.returncode, r.stdout

    def test_clean_tree_passes(self):
        self.write("io/a.cpp", "void a() {\n" + block("a") + "}\n")
        self.write("io/b.hpp", "#pragma once\nvoid b() {\n" + block("b") + "}\n")
        self.write("server/c.cpp", "// a comment\n" * 600)  # comments do not count as code...
        code, out = self.check()
        self.assertEqual(code, 1, out)  # ...but they do count as lines
        os.remove(os.path.join(self.root, "server/c.cpp"))
        code, out = self.check()
        self.assertEqual(code, 0, out)
        self.assertIn("no repeated runs", out)

    def test_long_production_file_fails(self):
        self.write("config/big.cpp", "".join(f"int x{i};\n" for i in range(501)))
        self.write("config/fine.cpp", "".join(f"int y{i};\n" for i in range(500)))
        code, out = self.check()
        self.assertEqual(code, 1)
        self.assertIn("config/big.cpp: 501 lines", out)
        self.assertNotIn("fine.cpp", out)

    def test_long_test_file_is_allowed(self):
        self.write("tests/io/big_test.cpp", "int x;\n" * 900)
        code, out = self.check()
        self.assertEqual(code, 0, out)

    def test_repeated_run_names_both_places(self):
        self.write("io/a.cpp", "void a() {\n" + block("same") + "}\n")
        # The same lines, indented differently and with blank lines and comments between them.
        spaced = block("same").replace("  int", "\n      int").replace(";\n", ";\n// x\n", 1)
        self.write("server/b.cpp", "// header\nvoid b() {\n  call();\n" + spaced + "}\n")
        code, out = self.check()
        self.assertEqual(code, 1)
        self.assertIn("io/a.cpp:2-7 repeated at server/b.cpp:", out)
        self.assertIn("(6 lines)", out)

    def test_five_lines_or_noise_are_not_a_run(self):
        self.write("io/a.cpp", "void a() {\n" + block("same", 5) + "}\n")
        self.write("io/b.cpp", "void b() {\n" + block("same", 5) + "}\n")
        # Include lists and closing braces repeat everywhere; they are not code written twice.
        includes = "".join(f"#include <h{i}>\n" for i in range(8))
        self.write("io/c.cpp", includes + "}\n" * 8)
        self.write("io/d.cpp", includes + "}\n" * 8)
        code, out = self.check()
        self.assertEqual(code, 0, out)

    def test_repeat_within_one_file_and_in_tests(self):
        self.write("runtime/a.cpp", block("twice") + "int gap;\n" + block("twice"))
        self.write("tests/runtime/t.cpp", block("t") + block("t"))
        code, out = self.check()
        self.assertEqual(code, 1)
        self.assertIn("runtime/a.cpp:1-6 repeated at runtime/a.cpp:8-13 (6 lines)", out)
        self.assertNotIn("tests/", out)

    def test_a_table_of_equal_rows_is_one_finding(self):
        self.write("io/table.cpp", "  row(1, 2);\n" * 40)
        code, out = self.check()
        self.assertEqual(code, 1)
        self.assertEqual(out.splitlines()[0], "io/table.cpp:1-6 repeated at io/table.cpp:7-40 "
                         "(34 lines): write it once where both can reach it")
        self.assertEqual(len(out.splitlines()), 1, out)

    def test_build_directories_are_skipped(self):
        self.write("build/meson-info/meson-info.json", "{}")
        self.write("build/gen.cpp", "int x;\n" * 900)
        code, out = self.check()
        self.assertEqual(code, 0, out)


if __name__ == "__main__":
    unittest.main()
