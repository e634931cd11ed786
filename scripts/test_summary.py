#!/usr/bin/env python3
"""Counts GoogleTest cases from meson's JUnit log and prints one closing line.

meson runs each test binary as one test; with protocol 'gtest' its JUnit log also holds every
case, so the line counts cases, not binaries. Exits 1 if any case failed or none ran.
"""
import sys
import xml.etree.ElementTree as ET

root = ET.parse(sys.argv[1]).getroot()
passed = failed = skipped = 0
for case in root.iter("testcase"):
    if case.find("failure") is not None or case.find("error") is not None:
        failed += 1
    elif case.find("skipped") is not None:
        skipped += 1
    else:
        passed += 1
print(f"Tests: {passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed or passed == 0 else 0)
