"""The idle-connection memory mode: how much worker RSS one idle connection costs.

For each backend: echod (1 process x 1 thread) with its admin endpoint on, its worker's RSS read
from /proc, N idle client sockets held open by this process (nothing is sent on them), the admin
/stats read until the worker reports all N active, the RSS read again once it stops moving. The
figure is the difference over N: what one more idle connection costs the worker, in KiB. Kernel
socket memory is not in a process's RSS and is not counted. Does not run echoload or measure CPU.
"""
import http.client
import json
import os
import re
import resource
import socket
import time

from . import procs, servers

ADMIN_RE = re.compile(r"admin endpoint on 127\.0\.0\.1:(\d+)")
# /proc/PID/status fields, in KiB: resident total, and its anonymous and file-backed parts.
STATUS_FIELDS = ("VmRSS", "RssAnon", "RssFile")
COLUMNS = ["backend", "connections", "rss_before_kib", "rss_after_kib", "anon_before_kib",
           "anon_after_kib", "kib_per_connection", "anon_kib_per_connection",
           "rss_per_connection_kib", "status", "note"]
SETTLE_S = 0.2  # RSS sampled this often after the last connection; equal twice means settled


def parse_status(text):
    """{field: KiB} for STATUS_FIELDS from /proc/PID/status; raises ValueError when one lacks."""
    out = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key in STATUS_FIELDS:
            out[key] = int(value.split()[0])
    missing = [k for k in STATUS_FIELDS if k not in out]
    if missing:
        raise ValueError(f"/proc status lacks {', '.join(missing)}")
    return out


def memory_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return parse_status(f.read())


def worker_pid(master):
    """The one worker of a 1-process echod: the master's only descendant."""
    workers = [p for p in procs.descendants(master) if p != master]
    if len(workers) != 1:
        raise RuntimeError(f"expected one worker under pid {master}, found {workers}")
    return workers[0]


def active_connections(admin_port):
    """connections.active from the master's admin /stats (summed over the workers)."""
    c = http.client.HTTPConnection("127.0.0.1", admin_port, timeout=5)
    try:
        c.request("GET", "/stats")
        return int(json.loads(c.getresponse().read())["connections"]["active"])
    finally:
        c.close()


def raise_fd_limit(n):
    """Lets this process hold n sockets (plus some for itself); ValueError when it cannot."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = n + 64
    if soft >= need:
        return
    if hard != resource.RLIM_INFINITY and hard < need:
        raise ValueError(f"--connections {n} needs {need} file descriptors, the hard limit "
                         f"is {hard} (ulimit -Hn)")
    resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))


def open_idle(port, n, timeout=10.0):
    """n connected sockets to 127.0.0.1:port that never send. A connect that fails raises."""
    held = []
    try:
        for _ in range(n):
            held.append(socket.create_connection(("127.0.0.1", port), timeout=timeout))
    except BaseException:
        close_all(held)
        raise
    return held


def close_all(held):
    for s in held:
        s.close()
    held.clear()


def wait_until(probe, want, stall, what):
    """Polls probe() until it returns want; RuntimeError naming what and the last value when
    it has not changed for stall seconds."""
    got = probe()
    moved = time.monotonic()
    while got != want:
        if time.monotonic() - moved > stall:
            raise RuntimeError(f"{what}: {got}, not {want}, unchanged for {stall:.0f} s")
        time.sleep(0.05)
        now = probe()
        if now != got:
            got, moved = now, time.monotonic()


def settled_memory(pid, timeout=5.0):
    """The worker's memory once two samples SETTLE_S apart agree (coroutines that have just
    been accepted are still touching their first pages), or the last sample at the timeout."""
    last = memory_kib(pid)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(SETTLE_S)
        now = memory_kib(pid)
        if now["VmRSS"] == last["VmRSS"]:
            return now
        last = now
    return last


def echod_cmd(echod, backend, connections):
    """echod 1 x 1 with the admin endpoint on an ephemeral port and twice the coroutines held
    connections need: overload protection closes idle ones from 90% of them on."""
    cmd = servers.echod_cmd(echod, "upper", backend, 1, 1, coroutines=2 * connections + 64)
    return cmd + ["--set", "admin=127.0.0.1:0"]


def measure(echod, backend, connections, log_path, server_cpus=None, stall=10.0):
    """One row (COLUMNS) for one backend; status "failed" with a note when it could not."""
    row = dict.fromkeys(COLUMNS, "")
    row.update(backend=backend, connections=connections)
    server = procs.Server(f"echod {backend}", procs.pinned(echod_cmd(echod, backend, connections),
                                                           server_cpus), log_path)
    held = []
    try:
        why = server.start()
        if why:
            raise RuntimeError(f"echod {backend} did not start: {why}")
        with open(log_path, errors="replace") as f:
            m = ADMIN_RE.search(f.read())
        if not m:
            raise RuntimeError("echod printed no admin endpoint")
        admin = int(m.group(1))
        # start() connected once to see it serve: wait for that connection to be gone.
        wait_until(lambda: active_connections(admin), 0, stall, "active connections")
        worker = worker_pid(server.proc.pid)
        before = settled_memory(worker)
        held = open_idle(server.port, connections)
        wait_until(lambda: active_connections(admin), connections, stall,
                   "active connections")
        after = settled_memory(worker)
        row.update(rss_before_kib=before["VmRSS"], rss_after_kib=after["VmRSS"],
                   anon_before_kib=before["RssAnon"], anon_after_kib=after["RssAnon"],
                   kib_per_connection=round((after["VmRSS"] - before["VmRSS"]) / connections, 2),
                   anon_kib_per_connection=round(
                       (after["RssAnon"] - before["RssAnon"]) / connections, 2),
                   rss_per_connection_kib=round(after["VmRSS"] / connections, 2), status="ok")
    except (OSError, RuntimeError, ValueError, KeyError) as e:
        row.update(status="failed", note=str(e))
    finally:
        close_all(held)
        server.stop()
        if server.exit_note:
            row["note"] = "; ".join(x for x in (row["note"], server.exit_note) if x)
            row["status"] = "failed"
    return row


def markdown(rows):
    head = ["backend", "connections", "worker RSS before KiB", "after KiB",
            "KiB per idle connection", "of it anonymous", "RSS / connections KiB", "status"]
    out = ["| " + " | ".join(head) + " |", "| --- |" + " ---: |" * (len(head) - 2) + " --- |"]
    for r in rows:
        cells = [r["backend"], f"{r['connections']:,}", r["rss_before_kib"], r["rss_after_kib"],
                 r["kib_per_connection"], r["anon_kib_per_connection"],
                 r["rss_per_connection_kib"], r["status"] + (f": {r['note']}" if r["note"] else "")]
        out.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(out) + "\n"
