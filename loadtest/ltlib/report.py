"""results.csv and results.md, and the machine description recorded with every result.

Formats only what the sweep measured; does not judge it (the README explains how to read it).
"""
import csv
import datetime
import os
import platform
import re
import shutil
import subprocess

from .sweep import COLUMNS


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                # x86: "model name"; arm64 kernels often give only "CPU part" and friends.
                if key.strip() in ("model name", "Model", "Hardware", "cpu model"):
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def tool_version(cmd):
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
        lines = (r.stdout + r.stderr).strip().splitlines()
        return lines[0].strip() if lines else "?"
    except (OSError, subprocess.SubprocessError):
        return "?"


def machine(tools, server_cpus, client_cpus):
    pin = (f"server taskset -c {','.join(map(str, server_cpus))}, "
           f"client taskset -c {','.join(map(str, client_cpus))}") if server_cpus else \
        "not pinned (fewer than 2 CPUs available: server and client share them)"
    load = os.getloadavg()
    return {  # keys are the labels results.md shows
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cores": os.cpu_count(),
        "usable CPUs": len(os.sched_getaffinity(0)),
        "kernel": platform.release(),
        "cpu": cpu_model(),
        "pinning": pin,
        "load": f"{load[0]:.2f} (1-minute load average when the run started; "
                "much above 0 means other work competed with the measurement)",
        "echod": tool_version([tools["echod"], "--version"]),
        "echoload": tool_version([tools["echoload"], "--version"]) if tools.get("echoload")
        else "not used",
        "wrk": tool_version([tools["wrk"], "--version"]) if tools.get("wrk") else "not installed",
        "nginx": tool_version([tools["nginx"], "-v"]) if tools.get("nginx") else "not installed",
    }


# What an earlier run left in DIR: only names loadtest/ itself writes are ever removed.
_OURS = {"work": re.compile(r"^(\d{3}\.(json|out)|\d{2}-[\w-]+(\.log)?|epoll_echo|uring_echo)$"),
         "plot-data": re.compile(r"^\w+-\d+-\d+\.dat$")}


def clean_previous(out):
    """Removes an earlier run's per-case files, so work/ and plot-data/ describe this run only."""
    for sub, pattern in _OURS.items():
        d = os.path.join(out, sub)
        if not os.path.isdir(d):
            continue
        for name in os.listdir(d):
            if pattern.match(name):
                path = os.path.join(d, name)
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path)  # an nginx prefix: NN-nginx/
                else:
                    os.remove(path)


def write_csv(path, rows, columns=COLUMNS):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: _csv_value(r.get(k, "")) for k in columns})


def _csv_value(v):
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6g}" if abs(v) < 1e6 else f"{v:.0f}"
    return v


TABLE = [  # (header, column, format)
    ("kind", "kind", None), ("configuration", "label", None), ("conns", "connections", None),
    ("size B", "size_bytes", None), ("msgs/s", "msgs_per_sec", "{:,.0f}"),
    ("MB/s", "mb_per_sec", "{:.1f}"), ("p50 µs", "p50_us", "{:.0f}"),
    ("p99 µs", "p99_us", "{:.0f}"), ("server CPU µs/msg", "server_cpu_us_per_msg", "{:.2f}"),
    ("server CPU busy", "server_cpu_util", "{:.0%}"),
    ("client CPU busy", "client_cpu_util", "{:.0%}"), ("errors", "errors", None),
    ("status", "status", None),
]


def markdown(rows, mach, settings, notes, problems, plots):
    out = ["# echod load test results", ""]
    out += [f"- **{k}**: {v}" for k, v in mach.items()]
    out += [f"- **{k}**: {v}" for k, v in settings.items()]
    out += ["", "Higher msgs/s is better; lower p99 and lower server CPU µs/msg are better. "
            "echod, c-epoll rows: echoload, one message in flight per connection; "
            "echod-http, nginx rows: wrk, requests instead of messages.", ""]
    out.append("| " + " | ".join(h for h, _, _ in TABLE) + " |")
    out.append("| " + " | ".join("---:" if f else "---" for _, _, f in TABLE) + " |")
    for r in rows:
        cells = []
        for _, col, fmt in TABLE:
            v = r.get(col, "")
            if col == "label":  # the kind column already names the server
                v = v[len(r["kind"]):].strip() if v.startswith(r["kind"]) else v
                v = v or "—"
            cells.append(fmt.format(v) if fmt and isinstance(v, (int, float)) and v != "" else str(v))
        out.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    if notes or problems:
        out += ["", "## Notes", ""]
        out += [f"- {n}" for n in notes]
        out += [f"- **problem**: {p}" for p in problems]
    if plots:
        out += ["", "## Plots", ""] + [f"![{name}]({name})" for name in plots]
    return "\n".join(out) + "\n"
