#!/usr/bin/env python3
"""Unit tests for loadtest/ltlib and loadtest/check_outputs.py: parsers, the /proc arithmetic,
the tuning rule, and that what the report writes is what the checker accepts (and that a broken
output is refused). Needs no echod, no network, no gnuplot (a PNG is built in-memory with zlib).
"""
import csv
import importlib.util
import os
import struct
import sys
import tempfile
import unittest
import zlib
from importlib.machinery import SourceFileLoader

LOADTEST = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "loadtest")
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, LOADTEST)
from ltlib import clients, procs, report, servers, sweep, tools  # noqa: E402
import check_outputs  # noqa: E402


def load_script(name):
    """loadtest/tune has no .py suffix: load it as a module by path."""
    loader = SourceFileLoader(name, os.path.join(LOADTEST, name))
    spec = importlib.util.spec_from_loader(name, loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


WRK_OUTPUT = """\
Running 1s test @ http://127.0.0.1:40001/hello
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   470.63us  120.04us   5.04ms   92.33%
    Req/Sec   100.60k     5.69k  107.86k    80.00%
  Latency Distribution
     50%  456.00us
     75%  495.00us
     90%  545.00us
     99%    1.20ms
  100511 requests in 1.00s, 8.30MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 12
Requests/sec: 100093.64
Transfer/sec:      8.30MB
"""


def read(path, mode="r"):
    with open(path, mode) as f:
        return f.read()


def png_bytes(width, height):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    raw = b"".join(b"\x00" + os.urandom(width * 3) for _ in range(height))  # incompressible
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


class ParseTest(unittest.TestCase):
    def test_wrk(self):
        r = clients.parse_wrk(WRK_OUTPUT)
        self.assertAlmostEqual(r["msgs_per_sec"], 100093.64)
        self.assertEqual(r["messages"], 100511)
        self.assertAlmostEqual(r["p50_us"], 456.0)
        self.assertAlmostEqual(r["p99_us"], 1200.0)
        self.assertAlmostEqual(r["max_us"], 5040.0)
        self.assertEqual(r["errors"], {"connect": 0, "read": 2, "write": 0, "timeout": 1, "non2xx": 12})

    def test_wrk_without_summary_is_an_error(self):
        with self.assertRaises(ValueError):
            clients.parse_wrk("unable to connect to 127.0.0.1:1 Connection refused\n")

    def test_wrk_command_caps_threads_by_connections(self):
        cmd = clients.wrk_cmd("wrk", 5, threads=4, connections=1, duration=1.0)
        self.assertEqual(cmd[cmd.index("-t") + 1], "1")
        self.assertEqual(cmd[-1], "http://127.0.0.1:5/hello")

    def test_duration_arg(self):
        self.assertEqual(clients.duration_arg(3), "3s")
        self.assertEqual(clients.duration_arg(0.3), "300ms")

    def test_echoload_json(self):
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            f.write('{"msgs_per_sec": 1000.5, "mb_per_sec": 0.1, "messages": 3000, "duration_s": 3,'
                    ' "latency_us": {"p50": 10, "p90": 20, "p99": 30, "p999": 40, "p9999": 50,'
                    ' "max": 60, "mean": 12}, "errors": {"connect": 0, "timeout": 0, "reset": 1,'
                    ' "short": 0, "mismatch": 2, "other": 0}, "machine": {}}')
        try:
            r = clients.echoload_result(f.name)
        finally:
            os.unlink(f.name)
        self.assertEqual(r["messages"], 3000)
        self.assertEqual(sum(r["errors"].values()), 3)
        self.assertEqual(r["p999_us"], 40.0)

    def test_proc_stat_with_odd_command_name(self):
        fields = ["S"] + [str(i) for i in range(4, 53)]  # fields 3.. ; 14,15 = "14","15"
        line = "1234 (a) b (c)) " + " ".join(fields)
        self.assertEqual(procs.parse_stat(line), (14 + 15, 16 + 17))

    def test_own_cpu_time_is_readable(self):
        self.assertGreaterEqual(procs.cpu_seconds(os.getpid()), 0.0)
        self.assertIn(os.getpid(), procs.descendants(os.getpid()))


class BuildChoiceTest(unittest.TestCase):
    def test_sanitizer_build_loses_even_when_newer(self):
        with tempfile.TemporaryDirectory() as d:
            bins = []
            for name, san in (("build", "none"), ("build-asan", "address,undefined")):
                os.makedirs(os.path.join(d, name, "meson-info"))
                os.makedirs(os.path.join(d, name, "server"))
                with open(os.path.join(d, name, "meson-info", "intro-buildoptions.json"), "w") as f:
                    f.write('[{"name": "b_sanitize", "value": "%s"},'
                            ' {"name": "buildtype", "value": "debugoptimized"}]' % san)
                exe = os.path.join(d, name, "server", "echod")
                with open(exe, "w") as f:
                    f.write("")
                bins.append(exe)
            os.utime(bins[0], (1, 1))  # the plain build is the older one
            self.assertEqual(max(bins, key=tools._build_rank), bins[0])


class NginxConfTest(unittest.TestCase):
    def test_conf_keeps_everything_under_prefix(self):
        with tempfile.TemporaryDirectory() as d:
            text = read(servers.write_nginx_conf(d, 4321, "--without-http_uwsgi_module"))
        self.assertIn("listen 127.0.0.1:4321;", text)
        self.assertIn("daemon off;", text)
        self.assertIn(f"pid {d}/nginx.pid;", text)
        self.assertNotIn("uwsgi_temp_path", text)
        self.assertIn(f"proxy_temp_path {d}/tmp_proxy;", text)


def row(**kw):
    r = dict.fromkeys(sweep.COLUMNS, "")
    r.update(kind="echod", label="echod epoll 1x1x4096", service="upper", backend="epoll",
             processes=1, threads=1, coroutines=4096, connections=1, size_bytes=64,
             msgs_per_sec=1000.0, messages=3000, p50_us=10.0, p99_us=30.0, errors=0,
             server_cpu_us_per_msg=5.0, server_cpu_util=0.5, status="ok")
    r.update(kw)
    return r


class TuneRuleTest(unittest.TestCase):
    tune = load_script("tune")

    def test_fastest_wins_when_clearly_faster(self):
        a = row(msgs_per_sec=1000.0, server_cpu_us_per_msg=5.0)
        b = row(msgs_per_sec=1100.0, server_cpu_us_per_msg=6.0, processes=2)
        self.assertIs(self.tune.pick([a, b]), b)

    def test_within_band_lower_cpu_wins(self):
        a = row(msgs_per_sec=1000.0, server_cpu_us_per_msg=5.0, processes=2)
        b = row(msgs_per_sec=1010.0, server_cpu_us_per_msg=6.0)
        self.assertIs(self.tune.pick([a, b]), a)

    def test_full_tie_prefers_fewer_schedulers(self):
        a = row(processes=2)
        b = row(threads=2)
        c = row()
        self.assertIs(self.tune.pick([a, b, c]), c)

    def test_coroutines_come_from_capacity_not_speed(self):
        self.assertEqual(self.tune.coroutines_for(None, 2, 4096), 4096)
        self.assertEqual(self.tune.coroutines_for(1000, 2, 4096), 1000)  # 2x margin, 2 threads
        self.assertEqual(self.tune.coroutines_for(1001, 4, 4096), 501)

    def test_failed_cases_never_win(self):
        self.assertIsNone(self.tune.pick([row(status="errors")]))


class OutputsTest(unittest.TestCase):
    def write_outputs(self, d, rows):
        report.write_csv(os.path.join(d, "results.csv"), rows)
        mach = {"cores": 2, "kernel": "6.1", "cpu": "x", "date": "today", "echod": "echod 0.1.0"}
        with open(os.path.join(d, "results.md"), "w") as f:
            f.write(report.markdown(rows, mach, {}, [], [], list(check_outputs.PNGS)))
        for name in check_outputs.PNGS:
            with open(os.path.join(d, name), "wb") as f:
                f.write(png_bytes(640, 480))

    def all_kinds(self):
        return [row(kind=k, label=k) for k in sweep.KINDS[:-1]] + \
            [row(kind="nginx", label="nginx", status="skipped", note="nginx is not installed")]

    def test_good_outputs_pass(self):
        with tempfile.TemporaryDirectory() as d:
            self.write_outputs(d, self.all_kinds())
            self.assertEqual(check_outputs.main([d]), 0)

    def test_missing_kind_fails(self):
        with tempfile.TemporaryDirectory() as d:
            self.write_outputs(d, self.all_kinds()[:2])
            self.assertEqual(check_outputs.main([d]), 1)

    def test_csv_has_every_column(self):
        with tempfile.TemporaryDirectory() as d:
            self.write_outputs(d, self.all_kinds())
            with open(os.path.join(d, "results.csv")) as f:
                self.assertEqual(next(csv.reader(f)), sweep.COLUMNS)

    def test_png_checks(self):
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "x.png")
            with open(p, "wb") as f:
                f.write(png_bytes(640, 480))
            self.assertEqual(check_outputs.check_png(p), [])
            data = read(p, "rb")
            with open(p, "wb") as f:
                f.write(data[:-12])  # no IEND
            self.assertTrue(check_outputs.check_png(p))
            with open(p, "wb") as f:
                f.write(data[:20] + b"\xff" + data[21:])  # IHDR corrupted
            self.assertTrue(check_outputs.check_png(p))
            with open(p, "wb") as f:
                f.write(b"GIF89a" + data[6:])
            self.assertTrue(check_outputs.check_png(p))


class PlanTest(unittest.TestCase):
    def test_quick_plan_is_small_and_covers_every_kind(self):
        plan = sweep.plan(True, ["epoll", "io_uring"], 1)
        cases = sum(len(s["points"]) for s in plan)
        self.assertLessEqual(cases, 27)  # x ~1.6 s each must stay under a minute
        self.assertEqual({s["kind"] for s in plan}, set(sweep.KINDS))

    def test_full_plan_coroutines_never_cap_connections(self):
        for s in sweep.plan(False, ["epoll", "io_uring"], 4):
            for conns, _ in s["points"]:
                if s["coroutines"] != "":
                    self.assertGreaterEqual(s["coroutines"], conns, s["label"])


if __name__ == "__main__":
    unittest.main(verbosity=1)
