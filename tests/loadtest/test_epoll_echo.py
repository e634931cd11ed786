#!/usr/bin/env python3
"""Integration test of the reference server loadtest/ref/epoll_echo.c: built with `cc -O2` as
loadtest/run builds it, started on an ephemeral port, checked for upper and echo modes, for a
10 MB reply to a client that reads late (short writes must keep every byte, in order), for many
connections at once, and for exit 0 on SIGTERM. Exits 77 (meson: skipped) without a C compiler.
"""
import atexit
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

LOADTEST = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "loadtest")
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, LOADTEST)
from ltlib import servers  # noqa: E402

WORK = tempfile.mkdtemp(prefix="epoll_echo_test.")
atexit.register(shutil.rmtree, WORK, True)
BINARY, WHY = servers.build_ref(WORK)


class EpollEchoTest(unittest.TestCase):
    binary = BINARY  # test_uring_echo.py runs these same tests on uring_echo

    def start(self, *flags):
        p = subprocess.Popen([self.binary, *flags], stderr=subprocess.PIPE, text=True)
        self.addCleanup(self.stop, p)
        m = re.search(r"listening on 127\.0\.0\.1:(\d+)", p.stderr.readline())
        self.assertIsNotNone(m, "no 'listening on' line")
        return p, int(m.group(1))

    @staticmethod
    def stop(p):
        if p.poll() is None:
            p.kill()  # our own child, by its PID
            p.wait()
        p.stderr.close()

    def roundtrip(self, port, data):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(data)
            got = b""
            while len(got) < len(data):
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += chunk
            return got

    def test_upper_mode(self):
        _, port = self.start()
        self.assertEqual(self.roundtrip(port, b"Hello, world! az AZ {}\xe9"), b"HELLO, WORLD! AZ AZ {}\xe9")

    def test_echo_mode(self):
        _, port = self.start("-e")
        self.assertEqual(self.roundtrip(port, b"Hello, world!"), b"Hello, world!")

    @staticmethod
    def send_all_read_all(port, data, read_after=0.0):
        """Sends data and then a FIN from a thread while reading the reply until the server closes;
        returns the reply. read_after: seconds before the first read (a late reader)."""
        with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
            sender = threading.Thread(target=lambda: (s.sendall(data), s.shutdown(socket.SHUT_WR)))
            sender.start()
            time.sleep(read_after)
            got = bytearray()
            while True:
                chunk = s.recv(1 << 16)
                if not chunk:
                    break
                got += chunk
            sender.join()
        return got

    def test_large_reply_to_a_late_reader_is_complete(self):
        _, port = self.start()
        data = bytes(range(256)) * 40000  # 10 MB: far beyond the socket buffers
        # 0.5 s late: the server meets a full send buffer before we read.
        got = self.send_all_read_all(port, data, read_after=0.5)
        self.assertEqual(len(got), len(data))
        self.assertTrue(got == data.upper())

    def test_many_connections(self):
        _, port = self.start()
        socks = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(200)]
        try:
            for i, s in enumerate(socks):
                s.sendall(b"conn %d" % i)
            for i, s in enumerate(socks):
                self.assertEqual(s.recv(100), b"CONN %d" % i)
        finally:
            for s in socks:
                s.close()

    def test_sigterm_exits_zero(self):
        p, _ = self.start()
        p.send_signal(signal.SIGTERM)
        self.assertEqual(p.wait(5), 0)


if __name__ == "__main__":
    if BINARY is None:
        print(f"skipped: {WHY}")
        sys.exit(77)
    unittest.main(verbosity=1)
