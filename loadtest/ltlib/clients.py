"""The load generators: echoload for raw TCP, wrk for HTTP. Runs one client against a running
server while sampling the server's CPU time, and turns what the client printed into one result.

The CPU window sits inside the client's measured interval (after its warm-up, short of its end),
so connection set-up and tear-down are not charged to the messages: server CPU µs per message =
Δ(server CPU s) / Δ(wall s) / (messages per s). Does not start or stop servers.
"""
import json
import os
import re
import signal
import subprocess
import time

from . import procs

EDGE = 0.1  # seconds trimmed from each end of the measured interval for the CPU window


def duration_arg(seconds):
    """echoload's duration syntax: whole seconds as "3s", anything else in milliseconds."""
    return f"{int(seconds)}s" if float(seconds).is_integer() else f"{int(round(seconds * 1000))}ms"


def measure(server, cmd, warmup, duration, out_path, slack=15.0):
    """Runs cmd (stdout to out_path) while sampling server and client CPU. Returns a dict with
    rc, text, cpu_s, client_cpu_s, window_s, timed_out. The client is killed by its PID when it
    overruns. Client CPU says whether the client, not the server, was the limit."""
    with open(out_path, "w") as out:
        t_start = time.monotonic()
        client = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out,
                                  stderr=subprocess.STDOUT, start_new_session=True)
    cpu0 = cpu1 = w0 = w1 = ccpu0 = ccpu1 = None
    timed_out = False
    try:
        _sleep_until(t_start + warmup + EDGE)
        if client.poll() is None and server.alive():
            cpu0, ccpu0, w0 = server.cpu(), procs.cpu_seconds(client.pid), time.monotonic()
            _sleep_until(t_start + warmup + duration - EDGE)
            if client.poll() is None and server.alive():
                cpu1, ccpu1, w1 = server.cpu(), procs.cpu_seconds(client.pid), time.monotonic()
        try:
            rc = client.wait(timeout=max(0.0, t_start + warmup + duration + slack - time.monotonic()))
        except subprocess.TimeoutExpired:
            timed_out = True
    finally:  # overrun, Ctrl-C or SIGTERM: the client goes, by its PID (its own process group)
        if client.poll() is None:
            os.killpg(client.pid, signal.SIGKILL)
            rc = client.wait()
    with open(out_path, errors="replace") as f:
        text = f.read()
    ok_window = cpu1 is not None and w1 > w0
    return {"rc": rc, "text": text, "timed_out": timed_out,
            "cpu_s": cpu1 - cpu0 if ok_window else None,
            "client_cpu_s": ccpu1 - ccpu0 if ok_window else None,
            "window_s": w1 - w0 if ok_window else None}


def _sleep_until(t):
    delay = t - time.monotonic()
    if delay > 0:
        time.sleep(delay)


# ---- echoload ----

ECHOLOAD_ERRORS = ("connect", "timeout", "reset", "short", "mismatch", "other")


def echoload_cmd(echoload, port, threads, connections, size, expect, duration, warmup, json_path,
                 backend=None, pipeline=1, per_conn=0):
    cmd = [echoload, "-t", str(threads), "-c", str(connections), "-d", duration_arg(duration),
           "--size", str(size), "--expect", expect, "--warmup", duration_arg(warmup),
           "--json", json_path, "--progress", "off"]
    if backend:
        cmd += ["--backend", backend]
    if pipeline != 1:
        cmd += ["--pipeline", str(pipeline)]
    if per_conn:
        cmd += ["--messages-per-connection", str(per_conn)]
    return cmd + [f"127.0.0.1:{port}"]


def echoload_result(json_path):
    """Result fields from echoload's --json file; raises ValueError naming what is missing."""
    try:
        with open(json_path) as f:
            j = json.load(f)
    except (OSError, ValueError) as e:
        raise ValueError(f"no usable echoload JSON ({e})") from None
    try:
        lat, errs = j["latency_us"], j["errors"]
        errors = {k: int(errs.get(k, 0)) for k in ECHOLOAD_ERRORS}
        errors.update({k: int(v) for k, v in errs.items() if k not in errors})
        return {"msgs_per_sec": float(j["msgs_per_sec"]), "mb_per_sec": float(j["mb_per_sec"]),
                "messages": int(j["messages"]), "duration_s": float(j["duration_s"]),
                "p50_us": float(lat["p50"]), "p90_us": float(lat["p90"]),
                "p99_us": float(lat["p99"]), "p999_us": float(lat["p999"]),
                "max_us": float(lat["max"]), "mean_us": float(lat["mean"]),
                "conns_per_sec": float(j.get("connects_per_sec", 0)), "errors": errors}
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"echoload JSON lacks {e}") from None


# ---- wrk ----

_UNITS_US = {"us": 1.0, "ms": 1e3, "s": 1e6, "m": 60e6, "h": 3600e6}
_SIZE = {"B": 1, "KB": 1024, "MB": 1024 ** 2, "GB": 1024 ** 3, "TB": 1024 ** 4}


def _to_us(text):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    if not m:
        raise ValueError(f"not a wrk time: {text!r}")
    return float(m.group(1)) * _UNITS_US[m.group(2)]


def wrk_cmd(wrk, port, threads, connections, duration, path="/hello"):
    # wrk takes whole seconds; it needs at least one connection per thread.
    return [wrk, "-t", str(max(1, min(threads, connections))), "-c", str(connections),
            "-d", f"{max(1, int(round(duration)))}s", "--latency", f"http://127.0.0.1:{port}{path}"]


def parse_wrk(text):
    """Result fields from `wrk --latency` output; raises ValueError when the summary is missing.
    wrk prints no p99.9: those columns stay empty."""
    m = re.search(r"^Requests/sec:\s*([\d.]+)", text, re.M)
    n = re.search(r"^\s*(\d+) requests in ([\d.]+\w+), ([\d.]+)(\w+) read", text, re.M)
    if not m or not n:
        raise ValueError("wrk printed no summary: " + " | ".join(text.strip().splitlines()[-3:]))
    dist = dict(re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+\w+)", text, re.M))
    lat = re.search(r"^\s+Latency\s+([\d.]+\w+)\s+[\d.]+\w+\s+([\d.]+\w+)", text, re.M)
    if "50" not in dist or "99" not in dist or not lat:
        raise ValueError("wrk printed no latency distribution (was --latency given?)")
    errors = {"connect": 0, "read": 0, "write": 0, "timeout": 0, "non2xx": 0}
    s = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if s:
        errors.update(zip(("connect", "read", "write", "timeout"), map(int, s.groups())))
    x = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if x:
        errors["non2xx"] = int(x.group(1))
    duration_s = _to_us(n.group(2)) / 1e6
    mb = float(n.group(3)) * _SIZE.get(n.group(4), 1) / 1e6
    return {"msgs_per_sec": float(m.group(1)), "mb_per_sec": mb / duration_s,
            "messages": int(n.group(1)), "duration_s": duration_s,
            "p50_us": _to_us(dist["50"]), "p90_us": _to_us(dist["90"]) if "90" in dist else None,
            "p99_us": _to_us(dist["99"]), "p999_us": None,
            "max_us": _to_us(lat.group(2)), "mean_us": _to_us(lat.group(1)), "errors": errors}
