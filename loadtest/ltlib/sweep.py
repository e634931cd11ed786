"""What to measure (the case plans) and the loop that measures it.

A plan is a list of server set-ups, each with the client points (connections x message size) run
against one start of that server: starting once per set-up keeps the quick run short, and a crash
mid-set-up fails the remaining points instead of hiding. Does not write files other than the
per-case client output and server logs in the work dir.
"""
import os

from . import clients, procs, servers

COLUMNS = [
    "kind", "label", "service", "backend", "processes", "threads", "coroutines",
    "connections", "size_bytes", "messages_per_connection", "client", "client_threads",
    "duration_s", "msgs_per_sec", "mb_per_sec", "conns_per_sec", "messages", "p50_us", "p90_us", "p99_us", "p999_us", "max_us",
    "mean_us", "errors", "error_detail", "server_cpu_util", "server_cpu_us_per_msg",
    "client_cpu_util", "status", "note",
]
KINDS = ("echod", "c-epoll", "c-uring", "echod-http", "nginx")
REFS = ("c-epoll", "c-uring")  # the hand-written C loops: ref/epoll_echo.c, ref/uring_echo.c


def setup(kind, service="upper", backend="", processes="", threads="", coroutines="",
          points=(), label=None, pipeline=1, per_conn=0):
    """pipeline: messages echoload keeps in flight per connection (echoload kinds only).
    per_conn > 0: churn, echoload --messages-per-connection per_conn (the accept path)."""
    if label is None:
        label = kind if kind in REFS + ("nginx",) else \
            f"{kind} {backend} {processes}x{threads}x{coroutines}"
        label += "" if service in ("upper", "http") else f" ({service})"
        label += f" {pipeline} in flight" if pipeline != 1 else ""
        label += f" churn {per_conn}/conn" if per_conn else ""
    return {"kind": kind, "service": service, "backend": backend, "processes": processes,
            "threads": threads, "coroutines": coroutines, "label": label, "points": list(points),
            "pipeline": pipeline, "per_conn": per_conn}


def plan(quick, backends, n_server_cpus):
    """Quick: 27 cases of ~1.3 s (~40 s). Full: 143 cases of ~4.2 s (about 10 minutes)."""
    if quick:
        tcp = [(c, 64) for c in (1, 16, 64)]
        http = [(c, 0) for c in (1, 16, 64)]
        ptc = [(1, 1, 4096)]
        extra = [("epoll", 2, 1, 4096)]
    else:
        tcp = [(c, s) for s in (64, 4096) for c in (1, 4, 16, 64, 256)]
        http = [(c, 0) for c in (1, 4, 16, 64, 256)]
        # processes up to the server's cores, one multi-threaded process, and a small coroutine
        # pool (still >= connections) to show coroutines set capacity, not speed.
        ptc = [(p, 1, 4096) for p in sorted({1, 2, n_server_cpus})] + [(1, 2, 4096), (1, 1, 256)]
        extra = []
    out = [setup("echod", backend=b, processes=p, threads=t, coroutines=c, points=tcp)
           for b in backends for (p, t, c) in ptc]
    out += [setup("echod", backend=b, processes=p, threads=t, coroutines=c, points=tcp)
            for (b, p, t, c) in extra if b in backends]
    out += [setup(ref, points=tcp) for ref in REFS]
    # Churn: a new connection per message, so every message pays connect, accept and close:
    # echod's accept path (what multishot accept should move) beside the C epoll loop's.
    churn = [(16, 64)] if quick else [(16, 64), (64, 64)]
    out += [setup("echod", backend=b, processes=1, threads=1, coroutines=4096, points=churn,
                  per_conn=1) for b in backends]
    out.append(setup("c-epoll", points=churn, per_conn=1))
    if not quick:  # upper vs echo: what the a-z loop costs, in echod and in plain C
        big = [(c, s) for (c, s) in tcp if s == 4096]
        out.append(setup("echod", "echo", backends[0], 1, 1, 4096, big))
        out.append(setup("c-epoll", "echo", points=big))
        # Where the data path is judged: hundreds and thousands of connections, and pipelining.
        scale, piped = [(500, 64), (5000, 64)], [(100, 64)]
        out += [setup("echod", backend=b, processes=1, threads=1, coroutines=8192, points=scale)
                for b in backends]
        out += [setup("echod", backend=b, processes=1, threads=1, coroutines=4096, points=piped,
                      pipeline=16) for b in backends]
        out += [setup(ref, points=p, pipeline=n) for ref in REFS
                for (p, n) in ((scale, 1), (piped, 16))]
    out += [setup("echod-http", "http", b, 1, 1, 4096, http) for b in backends]
    out.append(setup("nginx", "http", processes=1, threads=1, points=http, label="nginx 1 worker"))
    return out


class Runner:
    """Runs set-ups; collects rows and problems (server failures, errors) for the exit status."""

    def __init__(self, work, tools, server_cpus, client_cpus, warmup, duration, log=print):
        self.work, self.tools, self.log = work, tools, log
        self.server_cpus, self.client_cpus = server_cpus, client_cpus
        self.warmup, self.duration = warmup, duration
        self.rows, self.problems, self.notes = [], [], []
        self.n = 0

    def base_row(self, s, conns, size):
        row = dict.fromkeys(COLUMNS, "")
        row.update({k: s[k] for k in ("kind", "label", "service", "backend", "processes",
                                      "threads", "coroutines")})
        row.update({"connections": conns, "size_bytes": size if s["service"] != "http" else "",
                    "messages_per_connection": s.get("per_conn") or "",
                    "client": "wrk" if s["service"] == "http" else "echoload",
                    "client_threads": min(len(self.client_cpus or [0]), conns)})
        return row

    def skip(self, s, why):
        for conns, size in s["points"]:
            row = self.base_row(s, conns, size)
            row.update(status="skipped", note=why)
            self.rows.append(row)
        if why not in self.notes:
            self.notes.append(why)
        self.log(f"skip  {s['label']}: {why}")

    def run(self, s):
        server, why = self.make_server(s)
        if server is None:
            return self.skip(s, why)
        try:  # the finally stops the server on every path, Ctrl-C and SIGTERM included
            why = server.start()
            if why:
                self.problems.append(f"{s['label']}: failed to start: {why}")
                for conns, size in s["points"]:
                    row = self.base_row(s, conns, size)
                    row.update(status="failed", note=f"server failed to start: {why}")
                    self.rows.append(row)
                self.log(f"FAIL  {s['label']}: {why}")
                return
            for conns, size in s["points"]:
                self.rows.append(self.run_point(server, s, conns, size))
        finally:
            server.stop()
            if server.exit_note:
                self.problems.append(server.exit_note)
                self.log(f"FAIL  {server.exit_note}")

    def make_server(self, s):
        """(procs.Server, None) or (None, why it cannot run here)."""
        self.n += 1
        tag = f"{self.n:02d}-{s['kind']}"
        log = os.path.join(self.work, tag + ".log")
        k = s["kind"]
        if k in ("echod", "echod-http"):
            cmd = servers.echod_cmd(self.tools["echod"], s["service"], s["backend"],
                                    s["processes"], s["threads"], s["coroutines"])
            return procs.Server(s["label"], procs.pinned(cmd, self.server_cpus), log), None
        if k in REFS:
            if not self.tools.get(k):
                return None, self.tools.get(k + "-why", "C reference not built")
            cmd = servers.ref_cmd(self.tools[k], s["service"])
            return procs.Server(s["label"], procs.pinned(cmd, self.server_cpus), log), None
        if k == "nginx":
            nginx = self.tools.get("nginx")
            if not nginx:
                return None, "nginx is not installed (apt-get install nginx-light): no HTTP reference"
            prefix = os.path.join(self.work, tag)
            os.makedirs(prefix, exist_ok=True)
            port = procs.free_port()
            version, args = servers.nginx_info(nginx)
            conf = servers.write_nginx_conf(prefix, port, args)
            cmd = servers.nginx_cmd(nginx, prefix, conf, version)
            return procs.Server(s["label"], procs.pinned(cmd, self.server_cpus), log, port=port), None
        raise ValueError(f"unknown kind {k}")

    def run_point(self, server, s, conns, size):
        row = self.base_row(s, conns, size)
        tag = f"{len(self.rows) + 1:03d}"
        if not server.alive():
            row.update(status="failed", note=f"server died earlier: {server.log_tail(2)}")
            self.problems.append(f"{s['label']} c={conns}: server not running")
            return row
        threads = row["client_threads"]
        if s["service"] == "http":
            cmd = clients.wrk_cmd(self.tools["wrk"], server.port, threads, conns, self.duration)
            warmup = 0.0  # wrk has no warm-up; its whole run is the measured interval
        else:
            json_path = os.path.join(self.work, tag + ".json")
            cmd = clients.echoload_cmd(self.tools["echoload"], server.port, threads, conns, size,
                                       s["service"], self.duration, self.warmup, json_path,
                                       pipeline=s.get("pipeline", 1),
                                       per_conn=s.get("per_conn", 0))
            warmup = self.warmup
        m = clients.measure(server, procs.pinned(cmd, self.client_cpus), warmup, self.duration,
                            os.path.join(self.work, tag + ".out"))
        try:
            res = clients.parse_wrk(m["text"]) if s["service"] == "http" \
                else clients.echoload_result(json_path)
        except ValueError as e:
            res, row["note"] = None, f"{e}; exit {m['rc']}"
        if res:
            errors = res.pop("errors")
            row.update(res)
            row["errors"] = sum(errors.values())
            row["error_detail"] = " ".join(f"{k}={v}" for k, v in errors.items() if v)
            if m["cpu_s"] is not None and res["msgs_per_sec"] > 0:
                util = m["cpu_s"] / m["window_s"]
                row["server_cpu_util"] = round(util, 3)
                row["server_cpu_us_per_msg"] = round(util / res["msgs_per_sec"] * 1e6, 3)
                row["client_cpu_util"] = round(m["client_cpu_s"] / m["window_s"], 3)
        bad = res is None or row["errors"] or m["rc"] != 0 or m["timed_out"]
        if res is not None and res["msgs_per_sec"] <= 0:
            # Seen once with wrk on a machine at load 12: a row with no rate has no CPU per
            # message either, and must not pass as "ok".
            bad = True
            row["note"] = (row["note"] + "; " if row["note"] else "") + \
                "no message completed in the measured interval"
        if m["timed_out"]:
            row["note"] = (row["note"] + "; " if row["note"] else "") + "client overran, killed"
        elif m["rc"] != 0 and res is not None:
            row["note"] = (row["note"] + "; " if row["note"] else "") + f"client exit {m['rc']}"
        if not server.alive():
            bad = True
            row["note"] = (row["note"] + "; " if row["note"] else "") + \
                f"server died: {server.log_tail(2)}"
        row["status"] = "errors" if bad else "ok"
        if bad:
            self.problems.append(f"{s['label']} c={conns} size={size}: {row['status']} "
                                 f"{row['error_detail']} {row['note']}".strip())
        self.log(f"{row['status']:5s} {s['label']:32s} c={conns:<4} "
                 f"size={row['size_bytes'] or '-':<5} "
                 f"{_num(row['msgs_per_sec']):>10}/s p99={_num(row['p99_us'])}us "
                 f"cpu={_num(row['server_cpu_us_per_msg'])}us/msg")
        return row


def _num(v):
    if not isinstance(v, float):
        return str(v or "-")
    return f"{v:.0f}" if v >= 100 else f"{v:.2f}"
