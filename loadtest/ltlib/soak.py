"""The soak test's measurements and verdict: per-worker RSS and open fds read from /proc, and the
rule that says whether they grew.

A leak raises the floor a value keeps coming back to; traffic only makes it wobble above that
floor (buffers taken and returned, connections of the churn client open at one sample and closed
at the next). So after the warm-up the samples are split into thirds and the verdict compares the
lowest value of the last third with the lowest of the first: growth beyond the bound fails. A
worker that was replaced (crashed and respawned) fails too: its numbers would start over.
"""
import os

from . import procs

MIN_SAMPLES = 6  # after the warm-up: two per third at least, or the verdict says too few


def worker_pids(master):
    """The master's descendants, master excluded (echod's workers)."""
    return sorted(p for p in procs.descendants(master) if p != master)


def rss_kib(pid):
    """VmRSS of pid in KiB, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def fd_count(pid):
    """Open file descriptors of pid, or None when it is gone."""
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


def sample(master, t):
    """{"t": seconds, "workers": {pid: (rss_kib, fds)}} for the workers alive now."""
    workers = {}
    for pid in worker_pids(master):
        rss, fds = rss_kib(pid), fd_count(pid)
        if rss is not None and fds is not None:
            workers[pid] = (rss, fds)
    return {"t": t, "workers": workers}


def verdict(samples, warmup_s, rss_bound_kib, fd_bound):
    """(ok, lines): one line per worker and measure, then the verdict. `samples` are what
    sample() returned, in time order."""
    after = [s for s in samples if s["t"] >= warmup_s]
    lines, ok = [], True
    if len(after) < MIN_SAMPLES:
        return False, [f"FAIL: {len(after)} samples after the {warmup_s:g} s warm-up, "
                       f"need {MIN_SAMPLES}: run longer or sample more often"]
    pids = sorted(after[0]["workers"])
    if not pids:
        return False, ["FAIL: no worker was running after the warm-up"]
    for s in after:
        if sorted(s["workers"]) != pids:
            return False, [f"FAIL: the workers changed at {s['t']:.0f} s "
                           f"({pids} -> {sorted(s['workers'])}): one died or was replaced"]
    third = len(after) // 3
    first, last = after[:third], after[-third:]
    for pid in pids:
        for i, (name, unit, bound) in enumerate((("RSS", "KiB", rss_bound_kib),
                                                 ("fds", "", fd_bound))):
            start = min(s["workers"][pid][i] for s in first)
            end = min(s["workers"][pid][i] for s in last)
            grew = end - start
            good = grew <= bound
            ok = ok and good
            lines.append(f"{'ok  ' if good else 'FAIL'} worker {pid} {name}: floor {start}{unit} "
                         f"-> {end}{unit} (grew {grew}{unit}, bound {bound}{unit})")
    return ok, lines
