"""Server processes for the load tests: start, find the port, sample CPU time, stop.

Every process is tracked by the PID we spawned (taskset execs, so the PID is the server's own) and
its descendants read from /proc; nothing is ever looked up or killed by name. Does not know which
server it runs: the caller gives the command line and how to find the port.
"""
import os
import re
import signal
import socket
import subprocess
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")
LISTEN_RE = re.compile(r"listening on 127\.0\.0\.1:(\d+)")


def split_cpus(server_cpus=None, client_cpus=None):
    """Server on the first half of our CPUs, client on the rest, so neither steals the other's
    core. With one CPU both share it (None = no taskset) and the report says so."""
    allowed = sorted(os.sched_getaffinity(0))
    if server_cpus is None and client_cpus is None:
        if len(allowed) < 2:
            return None, None
        half = len(allowed) // 2
        return allowed[:half], allowed[half:]
    # One side given: the other gets the rest (or shares all when nothing is left).
    if server_cpus is None:
        server_cpus = [c for c in allowed if c not in client_cpus] or None
    if client_cpus is None:
        client_cpus = [c for c in allowed if c not in server_cpus] or None
    return server_cpus, client_cpus


def pinned(cmd, cpus):
    if not cpus:
        return list(cmd)
    return ["taskset", "-c", ",".join(str(c) for c in cpus)] + list(cmd)


def free_port():
    """A port for servers that cannot report an ephemeral one (nginx). The tiny race with other
    programs taking it in between is caught by the start-up check."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def descendants(pid):
    """pid and all its descendants, from /proc/PID/task/*/children."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo.extend(int(x) for x in f.read().split())
        except OSError:
            pass  # exited between the two reads
    return out


def parse_stat(text):
    """(utime + stime, cutime + cstime) in ticks from a /proc/PID/stat line. The command name
    (field 2) may hold spaces and parentheses, so split after the last ')'."""
    rest = text[text.rindex(")") + 2:].split()
    # rest[0] is field 3 (state): fields 14..17 are rest[11..14].
    return int(rest[11]) + int(rest[12]), int(rest[13]) + int(rest[14])


def start_time(pid):
    """Field 22 of /proc/PID/stat: with the PID it names one process, even if the PID is reused."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
        return s[s.rindex(")") + 2:].split()[19]
    except (OSError, ValueError, IndexError):
        return None


def kill_if_same(pid, started, sig=signal.SIGKILL):
    """Signals pid only if it is still the process we saw (same start time)."""
    if started is not None and start_time(pid) == started:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def cpu_seconds(master):
    """CPU time of master and its descendants. The master's cutime/cstime are added so that a
    worker that dies and is reaped inside the window still counts."""
    ticks = 0
    for p in descendants(master):
        try:
            with open(f"/proc/{p}/stat") as f:
                own, reaped = parse_stat(f.read())
        except (OSError, ValueError, IndexError):
            continue
        ticks += own + (reaped if p == master else 0)
    return ticks / CLK_TCK


class Server:
    """A running server: pid, port, log file. Start with start(), always stop()."""

    def __init__(self, name, cmd, log_path, port=None, env=None):
        self.name, self.cmd, self.log_path, self.port = name, cmd, log_path, port
        self.env, self.proc, self.exit_note = env, None, ""

    def log_tail(self, lines=5):
        try:
            with open(self.log_path, errors="replace") as f:
                return " | ".join(f.read().strip().splitlines()[-lines:])
        except OSError:
            return ""

    def start(self, timeout=10.0):
        """Returns None when serving, else why not. The port comes from the "listening on" line,
        or, when given in advance, from the first successful connect."""
        log = open(self.log_path, "w")
        # A session of its own: a Ctrl-C on the terminal must not hit the server mid-case.
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                     env=self.env, start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return f"exited with {self.proc.returncode} at start: {self.log_tail()}"
            if self.port is None:
                with open(self.log_path, errors="replace") as f:
                    m = LISTEN_RE.search(f.read())
                if m:
                    self.port = int(m.group(1))
            if self.port is not None and self._accepts():
                return None
            time.sleep(0.02)
        self.stop()
        return f"not serving after {timeout:.0f}s: {self.log_tail()}"

    def _accepts(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def cpu(self):
        return cpu_seconds(self.proc.pid)

    def stop(self, sig=signal.SIGTERM, grace=10.0):
        """Graceful stop by PID; SIGKILL to the PIDs we saw when the grace period runs out.
        Sets exit_note when the server did not exit 0 by itself."""
        if self.proc is None or self.proc.poll() is not None:
            return
        seen = {p: start_time(p) for p in descendants(self.proc.pid)}
        self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(grace)
            if rc != 0:
                self.exit_note = f"{self.name} exited with {rc} after {signal.Signals(sig).name}"
        except subprocess.TimeoutExpired:
            self.exit_note = f"{self.name} ignored {signal.Signals(sig).name} for {grace:.0f}s"
            for p, started in seen.items():
                kill_if_same(p, started)
            self.proc.wait()
        # Workers must not outlive their master (a leak would skew the next case).
        for p, started in seen.items():
            if p != self.proc.pid and start_time(p) == started and not _is_zombie(p):
                self.exit_note = (self.exit_note + "; " if self.exit_note else "") + \
                    f"{self.name}: worker {p} outlived the master"
                kill_if_same(p, started)


def _is_zombie(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
        return s[s.rindex(")") + 2] == "Z"
    except (OSError, ValueError, IndexError):
        return True
