#!/usr/bin/env python3
"""Integration test of the io_uring reference server loadtest/ref/uring_echo.c, built as
loadtest/run builds it: every test of test_epoll_echo.py (upper and echo, a 10 MB reply to a late
reader, many connections, SIGTERM), then what is its own: a burst from 1,000 connections at once,
and a buffer ring run empty (ENOBUFS) on purpose, where every byte must still come back in order.
Exits 77 (meson: skipped) without a C compiler, liburing-dev, or a kernel that allows io_uring.
"""
import os
import shutil
import socket
import sys
import tempfile
import threading
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_epoll_echo as base  # noqa: E402
from ltlib import servers, tools  # noqa: E402

WORK = tempfile.mkdtemp(prefix="uring_echo_test.")
base.atexit.register(shutil.rmtree, WORK, True)
BINARY, WHY = (servers.build_ref(WORK, servers.URING_SRC, servers.URING_LIBS)
               if tools.kernel_has_io_uring() else (None, "the kernel refuses io_uring_setup"))


class UringEchoTest(base.EpollEchoTest):
    binary = BINARY

    def burst(self, port, n):
        """n connections each send one distinct message before any reply is read."""
        socks = [socket.create_connection(("127.0.0.1", port), timeout=20) for _ in range(n)]
        try:
            msgs = [b"burst %d " % i + b"x" * (i % 200) for i in range(n)]
            for s, m in zip(socks, msgs):
                s.sendall(m)
            for s, m in zip(socks, msgs):
                got = b""
                while len(got) < len(m):
                    chunk = s.recv(4096)
                    self.assertTrue(chunk, "connection closed early")
                    got += chunk
                self.assertEqual(got, m.upper())
        finally:
            for s in socks:
                s.close()

    def test_burst_from_1000_connections(self):
        _, port = self.start()
        self.burst(port, 1000)

    def test_burst_through_a_tiny_ring(self):
        _, port = self.start("-b", "4")
        self.burst(port, 300)

    def test_empty_ring_loses_no_byte(self):
        # 4 buffers, 6 clients each sending 2 MB at once: the ring runs empty over and over;
        # every connection must still get all its bytes back, in order.
        p, port = self.start("-b", "4")
        results = {}

        def client(i):
            data = bytes((i * 7 + j) % 256 for j in range(256)) * 8192
            results[i] = self.send_all_read_all(port, data) == data.upper()

        threads = [threading.Thread(target=client, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual(results, {i: True for i in range(6)})
        p.send_signal(base.signal.SIGTERM)
        self.assertEqual(p.wait(5), 0)
        report = p.stderr.read()
        n = int(base.re.search(r"(\d+) recvs met an empty buffer ring", report).group(1))
        self.assertGreater(n, 0, "the ring never ran empty: the test did not test ENOBUFS")


if __name__ == "__main__":
    if BINARY is None:
        print(f"skipped: {WHY}")
        sys.exit(77)
    unittest.main(verbosity=1)
