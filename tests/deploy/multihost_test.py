"""Scale-out across "hosts" made of network namespaces: two echod servers and two load machines on
a private bridge. Each load machine drives both servers at once (one echoload per server, run
concurrently), and the four reports are merged with `echoload merge`. Checked exactly:
- the merged message count is the sum of the parts, and the merged histogram the bucket-wise sum;
- each server's /metrics byte counters equal what its clients say they sent and verified.

The namespaces, the bridge (in a namespace of its own, so the host's network is never touched)
and the veth pairs are made here and removed at the end, also on failure or SIGTERM; every
process runs under a deadline. Skipped (exit 77) where namespaces cannot be made (not root).

  ECHOD=build/server/echod ECHOLOAD=build/client/echoload python3 multihost_test.py
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

SKIP = 77
PREFIX = f"echod-mh{os.getpid()}"
SWITCH = f"{PREFIX}-sw"
SERVERS = {f"{PREFIX}-s1": "10.231.0.1", f"{PREFIX}-s2": "10.231.0.2"}
CLIENTS = {f"{PREFIX}-c1": "10.231.0.11", f"{PREFIX}-c2": "10.231.0.12"}
PORT, ADMIN = 7007, 7008
MESSAGES, SIZE = 20000, 200  # per echoload run: 4 runs
DEADLINE_S = 120

made = []       # namespaces to delete
started = []    # processes to stop


def run(*cmd, ns=None, timeout=30):
    """Runs cmd (in namespace `ns`); its stdout; raises with its stderr when it fails."""
    full = (["ip", "netns", "exec", ns] if ns else []) + list(cmd)
    r = subprocess.run(full, capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(full)}: exit {r.returncode}: {r.stderr.strip()}")
    return r.stdout


def cleanup():
    for p in started:
        if p.poll() is None:
            p.kill()
            p.wait()
    for ns in reversed(made):  # deleting a namespace removes its veth ends and the bridge
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
    made.clear()


def make_network():
    try:
        run("ip", "netns", "add", SWITCH)
    except (RuntimeError, FileNotFoundError) as e:
        print(f"SKIP: cannot make a network namespace ({e}); the multihost test needs root "
              "(CAP_SYS_ADMIN and CAP_NET_ADMIN) and iproute2, as CI has")
        sys.exit(SKIP)
    made.append(SWITCH)
    run("ip", "link", "add", "br0", "type", "bridge", ns=SWITCH)
    run("ip", "link", "set", "br0", "up", ns=SWITCH)
    for i, (ns, ip) in enumerate({**SERVERS, **CLIENTS}.items()):
        run("ip", "netns", "add", ns)
        made.append(ns)
        # One veth pair per host: eth0 in the host, its peer on the bridge.
        run("ip", "link", "add", "eth0", "netns", ns, "type", "veth", "peer", "name", f"port{i}", ns=SWITCH)
        run("ip", "link", "set", f"port{i}", "master", "br0", "up", ns=SWITCH)
        run("ip", "addr", "add", f"{ip}/24", "dev", "eth0", ns=ns)
        run("ip", "link", "set", "eth0", "up", ns=ns)
        run("ip", "link", "set", "lo", "up", ns=ns)


def start(ns, cmd, stderr):
    p = subprocess.Popen(["ip", "netns", "exec", ns] + cmd, stdout=subprocess.DEVNULL, stderr=stderr)
    started.append(p)
    return p


def wait_log(path, text, proc, timeout=20):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with open(path) as f:
            if text in f.read():
                return
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    with open(path) as f:
        raise RuntimeError(f"no '{text}' in {path}:\n{f.read()}")


def metrics(ns):
    """The unlabelled samples of a server's /metrics (read through curl inside its namespace)."""
    out = run("curl", "-sf", "--max-time", "10", f"http://127.0.0.1:{ADMIN}/metrics", ns=ns)
    return {k: int(float(v)) for k, v in (line.split() for line in out.splitlines()
                                         if line and not line.startswith("#") and "{" not in line)}


def main():
    echod, echoload = os.environ["ECHOD"], os.environ["ECHOLOAD"]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # meson's timeout: clean up, then fail
    tmp = tempfile.mkdtemp(prefix="echod-multihost-")
    failures = []

    def check(ok, what):
        if not ok:
            failures.append(what)

    make_network()
    servers = {}
    for ns, ip in SERVERS.items():
        log = os.path.join(tmp, f"{ns}.log")
        p = start(ns, [echod, "--set", f"listen={ip}:{PORT}", "--set", f"admin=127.0.0.1:{ADMIN}",
                       "--set", "processes=1", "--set", "shutdown_timeout=2"], open(log, "w"))
        servers[ns] = (p, log)
    for ns, (p, log) in servers.items():
        wait_log(log, "ready (pid", p)

    # Every load machine against every server, all at once.
    runs = []
    for cns in CLIENTS:
        for sns, sip in SERVERS.items():
            report = os.path.join(tmp, f"{cns}-to-{sns}.json")
            p = start(cns, [echoload, "-t", "1", "-c", "10", "-n", str(MESSAGES), "--size", str(SIZE),
                            "--timeout", "10s", "--progress", "off", "--json", report, f"{sip}:{PORT}"],
                      subprocess.PIPE)
            runs.append((p, report, sns))
    end = time.monotonic() + DEADLINE_S
    for p, report, _ in runs:
        try:
            p.wait(timeout=max(1, end - time.monotonic()))
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"echoload ({report}) did not finish within {DEADLINE_S} s")
        check(p.returncode == 0, f"echoload {report}: exit {p.returncode}: {p.stderr.read().decode()}")
    reports = [(json.load(open(r)), r, sns) for _, r, sns in runs]

    # The merge: counts summed, histograms added bucket by bucket.
    merged_path = os.path.join(tmp, "merged.json")
    subprocess.run([echoload, "merge"] + [r for _, r, _ in reports] + ["--json", merged_path],
                   check=True, capture_output=True, timeout=60)
    merged = json.load(open(merged_path))
    parts = [r for r, _, _ in reports]
    for key in ("messages", "bytes_sent", "bytes_received", "connections_opened"):
        check(merged[key] == sum(p[key] for p in parts), f"merged {key} {merged[key]} != sum of the parts")
    check(merged["messages"] == len(parts) * MESSAGES, f"merged messages {merged['messages']}")
    buckets = {}
    for p in parts:
        for bound, count in p["histogram"]["buckets"]:
            buckets[bound] = buckets.get(bound, 0) + count
    check(merged["histogram"]["buckets"] == [[b, buckets[b]] for b in sorted(buckets)],
          "the merged histogram is not the bucket-wise sum of the parts")
    h = merged["histogram"]
    check(h["count"] == sum(p["histogram"]["count"] for p in parts), "merged histogram count")
    check(h["sum"] == sum(p["histogram"]["sum"] for p in parts), "merged histogram sum")
    check(h["min"] == min(p["histogram"]["min"] for p in parts), "merged histogram min")
    check(h["max"] == max(p["histogram"]["max"] for p in parts), "merged histogram max")
    check(sum(e for e in merged["errors"].values()) == 0, f"errors: {merged['errors']}")

    # Each server counted what its clients sent and had verified. Workers report their counters
    # to the master now and then: wait (bounded) for the totals to settle after the load.
    for sns in SERVERS:
        mine = [r for r, _, s in reports if s == sns]
        want = {"echod_received_bytes_total": sum(r["bytes_sent"] for r in mine),
                "echod_sent_bytes_total": sum(r["bytes_received"] for r in mine),
                "echod_connections_accepted_total": sum(r["connections_opened"] for r in mine)}
        settle = time.monotonic() + 15
        while True:
            got = {k: metrics(sns).get(k) for k in want}
            if got == want or time.monotonic() > settle:
                break
            time.sleep(0.2)
        check(got == want, f"{sns} /metrics {got} != what its clients report {want}")
        check(want["echod_received_bytes_total"] == 2 * MESSAGES * SIZE, f"{sns}: clients sent {want}")

    for ns, (p, log) in servers.items():
        p.send_signal(signal.SIGTERM)  # ip netns exec passes it on by exec'ing echod
        try:
            check(p.wait(timeout=20) == 0, f"{ns}: echod exit {p.returncode}")
        except subprocess.TimeoutExpired:
            failures.append(f"{ns}: echod did not stop within 20 s")
    for f in failures:
        print(f"FAIL {f}")
    print(f"multihost: {len(parts)} runs from {len(CLIENTS)} load hosts to {len(SERVERS)} servers, "
          f"{merged['messages']} messages merged; {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    try:
        status = main()
    finally:
        cleanup()
    sys.exit(status)
