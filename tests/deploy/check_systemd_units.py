#!/usr/bin/env python3
"""Checks deploy/systemd's units offline, with the real systemd tools (no systemd running):

1. `systemd-analyze verify` accepts echod.service and echod.socket without a single message. The
   units name /usr/local/bin/echod, which verify requires to exist, so it checks copies whose
   ExecStart (and ExecStartPre) name the echod under test instead; nothing else is changed.
2. The service's SystemCallFilter, expanded group by group with `systemd-analyze syscall-filter`,
   allows io_uring_setup, io_uring_enter and io_uring_register (@system-service alone does not).
3. Where strace is installed: every system call echod makes while it starts, serves (on epoll,
   then on io_uring where the kernel offers it), reloads and stops is one that filter allows, so
   the sandbox does not break it.

Exit 77 (a skip, to meson) where systemd-analyze is missing, saying so.
Usage: check_systemd_units.py SOURCE_ROOT ECHOD
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

SOURCE, ECHOD = sys.argv[1], os.path.abspath(sys.argv[2])
UNITS = os.path.join(SOURCE, 'deploy', 'systemd')
INSTALLED = '/usr/local/bin/echod'


def fail(message):
    print('FAIL: ' + message)
    sys.exit(1)


def verify():
    with tempfile.TemporaryDirectory() as tmp:
        for name in ('echod.service', 'echod.socket'):
            with open(os.path.join(UNITS, name)) as f:
                text = f.read()
            with open(os.path.join(tmp, name), 'w') as f:
                f.write(text.replace(INSTALLED, ECHOD))
        run = subprocess.run(['systemd-analyze', 'verify', '--man=no',
                              os.path.join(tmp, 'echod.socket'), os.path.join(tmp, 'echod.service')],
                             capture_output=True, text=True, timeout=60)
        said = (run.stdout + run.stderr).strip()
        if run.returncode != 0 or said:
            fail('systemd-analyze verify (exit %d):\n%s' % (run.returncode, said))
    print('ok: systemd-analyze verify echod.socket echod.service: no message')


def expand(name, seen):
    """The system calls a SystemCallFilter entry stands for (groups expanded recursively)."""
    if not name.startswith('@'):
        return {name}
    if name in seen:
        return set()
    seen.add(name)
    out = subprocess.run(['systemd-analyze', 'syscall-filter', name], capture_output=True,
                         text=True, check=True, timeout=60).stdout
    calls = set()
    for line in out.splitlines()[1:]:
        entry = line.strip()
        if entry and not entry.startswith('#'):
            calls |= expand(entry, seen)
    return calls


def allowed_calls():
    with open(os.path.join(UNITS, 'echod.service')) as f:
        filters = [line.split('=', 1)[1].split() for line in f
                   if line.startswith('SystemCallFilter=')]
    if len(filters) != 1 or filters[0][0].startswith('~'):
        fail('expected one allow-list SystemCallFilter= line, got %r' % filters)
    allowed = set()
    seen = set()
    for entry in filters[0]:
        allowed |= expand(entry, seen)
    missing = {'io_uring_setup', 'io_uring_enter', 'io_uring_register'} - allowed
    if missing:
        fail('SystemCallFilter does not allow %s: echod would fall back to epoll' % sorted(missing))
    print('ok: SystemCallFilter allows io_uring (%d calls in all)' % len(allowed))
    return allowed


def round_trip(port, payload):
    with socket.create_connection(('127.0.0.1', port), timeout=10) as s:
        s.sendall(payload)
        got = b''
        while len(got) < len(payload):
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
    if got != payload.upper():
        fail('echod answered %r to %r' % (got, payload))


def wait_for(path, pattern, timeout=20):
    until = time.monotonic() + timeout
    while time.monotonic() < until:
        with open(path, errors='replace') as f:
            m = re.search(pattern, f.read())
        if m:
            return m
        time.sleep(0.02)
    with open(path, errors='replace') as f:
        fail('no %r in the log within %d s:\n%s' % (pattern, timeout, f.read()))


def traced_calls(backend, tmp):
    """Runs echod under strace -f through start, traffic, a reload and a stop; the calls made."""
    trace = os.path.join(tmp, 'trace-' + backend)
    log_path = os.path.join(tmp, 'log-' + backend)
    # LeakSanitizer cannot run under ptrace (an ASan build would exit 1 at the end): off here.
    env = dict(os.environ)
    env['ASAN_OPTIONS'] = (env.get('ASAN_OPTIONS', '') + ':detect_leaks=0').lstrip(':')
    with open(log_path, 'w') as log:
        p = subprocess.Popen(['strace', '-f', '-qq', '-o', trace, ECHOD, '--set',
                              'listen=127.0.0.1:0', '--set', 'admin=127.0.0.1:0', '--set',
                              'processes=2', '--set', 'threads=2', '--set', 'backend=' + backend,
                              '--set', 'shutdown_timeout=2'],
                             stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        echod = int(wait_for(log_path, r'starting \(pid (\d+)\)').group(1))  # not strace's
        port = int(wait_for(log_path, r'listening on 127\.0\.0\.1:(\d+)').group(1))
        wait_for(log_path, r'(?s)(ready \(pid.*){2}')
        round_trip(port, b'hello, sandbox')
        os.kill(echod, signal.SIGHUP)
        wait_for(log_path, r'reload complete')
        round_trip(port, b'after the reload')
        os.kill(echod, signal.SIGTERM)
        if p.wait(timeout=30) != 0:
            with open(log_path, errors='replace') as f:
                fail('echod under strace exited %d:\n%s' % (p.returncode, f.read()[-3000:]))
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    calls = set()
    with open(trace) as f:
        for line in f:
            m = re.match(r'\d+\s+([a-z0-9_]+)\(', line)
            if m:
                calls.add(m.group(1))
    if not calls:
        fail('strace recorded no system call (is ptrace denied here?)')
    return calls


def check_calls(allowed):
    if shutil.which('strace') is None:
        print('skip: strace is not installed: the calls echod makes are not checked against the '
              'filter (scripts/setup.sh installs it)')
        return
    with tempfile.TemporaryDirectory() as tmp:
        # auto: io_uring where this kernel offers it (its calls are then in the trace).
        for backend in ('epoll', 'auto'):
            calls = traced_calls(backend, tmp)
            with open(os.path.join(tmp, 'log-' + backend)) as f:
                if 'backend io_uring' in f.read():
                    backend = 'io_uring'
                    if 'io_uring_setup' not in calls:
                        fail('echod ran on io_uring, but strace saw no io_uring_setup')
            # execve: strace's own exec of echod, before the unit's filter would apply.
            denied = sorted(calls - allowed - {'execve'})
            if denied:
                fail('echod (%s) made system calls the unit\'s SystemCallFilter denies: %s'
                     % (backend, ', '.join(denied)))
            print('ok: %s: all %d system calls echod made are allowed' % (backend, len(calls)))


if shutil.which('systemd-analyze') is None:
    print('SKIP: systemd-analyze is not installed: the systemd units are not checked')
    sys.exit(77)
verify()
check_calls(allowed_calls())
