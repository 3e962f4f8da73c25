#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Runs every test suite and prints one summary line: 'N passed, N failed, N skipped'.

Every test program speaks TAP on stdout: cmocka binaries through
CMOCKA_MESSAGE_OUTPUT=TAP, the Python end-to-end scripts through tests/e2e/tap.py.
A program that exits non-zero without printing a failing TAP line counts as one
failure of its own, so a crash never passes silently.
"""
import argparse
import concurrent.futures
import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OK_RE = re.compile(r'^(not )?ok\b\s*\d*\s*-?\s*(.*)$')


def suites(args):
    b = args.build
    out = []
    if args.only in (None, 'unit'):
        out += [('unit', p, [p]) for p in sorted(glob.glob(f'{b}/tests/test_*'))
                if not p.endswith('.d')]
        out += [('unit', p, [sys.executable, p])
                for p in sorted(glob.glob(f'{ROOT}/tests/tools/test_*.py'))]
        if args.only is None:
            out += [('unit-asan', p, [p]) for p in sorted(glob.glob(f'{b}/san/tests/test_*'))
                     if not p.endswith('.d')]
    if args.only in (None, 'bpf'):
        out += [('bpf', p, [p]) for p in sorted(glob.glob(f'{b}/tests/bpf_*'))
                if not p.endswith('.d')]
    if args.only in (None, 'e2e'):
        out += [('e2e', p, [sys.executable, p])
                for p in sorted(glob.glob(f'{ROOT}/tests/e2e/test_*.py'))]
    if args.only in (None, 'fuzz'):
        for p in sorted(q for q in glob.glob(f'{b}/fuzz/fuzz_*') if not q.endswith('.d')):
            name = os.path.basename(p)
            corpus = f'{ROOT}/tests/fuzz/corpus/{name[5:]}'
            work = f'/tmp/mysqlprobe-fuzz/{name}'
            os.makedirs(work, exist_ok=True)
            cmd = [p, f'-max_total_time={args.fuzz_seconds}', '-rss_limit_mb=2048',
                   f'-artifact_prefix={work}/', work]
            if os.path.isdir(corpus):
                cmd.append(corpus)
            out.append(('fuzz', p, cmd))
    return out


PRINT = threading.Lock()


def run_one(kind, path, cmd, timeout):
    env = dict(os.environ, CMOCKA_MESSAGE_OUTPUT='TAP', MP_ROOT=ROOT,
               MP_BIN=os.path.join(ROOT, 'build/mysqlprobe'))
    name = os.path.basename(path)
    t0 = time.time()
    tmp = None
    if kind == 'e2e':
        # Its own TMPDIR, so whatever temp dir a test leaves behind is seen (and removed).
        tmp = tempfile.mkdtemp(prefix=f'mp-e2e-{name[:-3]}-')
        os.chmod(tmp, 0o755)  # tcpdump writes as its own user below it
        env['TMPDIR'] = tmp
    # A session of its own: every process the test started is found by its session id.
    p = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, errors='replace',
                         start_new_session=True)
    try:
        out, _ = p.communicate(timeout=timeout)
        rc = p.returncode
    except subprocess.TimeoutExpired:
        out = stop(p) + f'\nnot ok - {name} timed out after {timeout}s\n'
        rc = -1
    except BaseException:  # Ctrl-C or SIGTERM: the test (in its own session) stops too
        stop(p)
        raise
    if kind == 'e2e':
        out += ''.join(f'not ok - {name} left behind: {what}\n'
                       for what in leftovers(p.pid, tmp))
    passed = failed = skipped = 0
    lines = []
    for line in out.splitlines():
        m = OK_RE.match(line.strip())
        if not m:
            continue
        # TAP: a SKIP directive counts as skipped whether 'ok' or 'not ok' (cmocka says 'not ok').
        if '# SKIP' in line or '# skip' in line:
            skipped += 1
            lines.append(f'  SKIP {name}: {m.group(2)}')
        elif m.group(1):
            failed += 1
            lines.append(f'  FAIL {name}: {m.group(2)}')
        else:
            passed += 1
    if kind == 'fuzz':
        # libFuzzer prints no TAP: a clean exit after the time budget is one pass.
        if rc == 0:
            passed += 1
        else:
            failed += 1
            lines.append(f'  FAIL {name}: fuzzer exited {rc}')
    elif rc != 0 and failed == 0:
        failed += 1
        lines.append(f'  FAIL {name}: exited {rc} without a failing test line')
    elif rc == 0 and passed + failed + skipped == 0:
        failed += 1
        lines.append(f'  FAIL {name}: ran no test')
    dt = time.time() - t0
    with PRINT:  # fuzzers run side by side: one block of lines per suite
        print(f'[{kind}] {name}: {passed} passed, {failed} failed, {skipped} skipped '
              f'({dt:.1f}s)', flush=True)
        if failed or os.environ.get('MP_TEST_VERBOSE'):
            sys.stdout.write(''.join('    | ' + l + '\n' for l in out.splitlines()[-60:]))
        for l in lines:
            print(l)
        sys.stdout.flush()
    return passed, failed, skipped


def stop(p):
    """SIGTERM, so the e2e helpers remove what the test created; SIGKILL after 60 s.
    Returns what it printed meanwhile."""
    p.terminate()
    try:
        out, _ = p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate()
    return out or ''


def leftovers(pid, tmp):
    """What a finished e2e test left behind, each removed once named: processes of its
    session, namespaces named after its pid, files in its TMPDIR."""
    found = []
    procs = []
    for d in os.listdir('/proc'):
        try:
            with open(f'/proc/{d}/stat') as f:
                fields = f.read().rsplit(')', 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[3]) == pid and fields[0] != 'Z':  # session id, state
            procs.append(int(d))
    for q in procs:
        try:
            with open(f'/proc/{q}/cmdline') as f:
                found.append(f'process {q} ({f.read().replace(chr(0), " ").strip()[:100]})')
            os.kill(q, signal.SIGKILL)
        except OSError:
            pass
    r = subprocess.run(['ip', 'netns', 'list'], stdout=subprocess.PIPE, text=True,
                       stderr=subprocess.DEVNULL) if shutil.which('ip') else None
    for line in r.stdout.splitlines() if r else []:
        ns = line.split()[0] if line.strip() else ''
        if ns.startswith('mpt-') and ns.endswith(f'-{pid}'):
            found.append(f'network namespace {ns}')
            subprocess.run(['ip', 'netns', 'del', ns], stderr=subprocess.DEVNULL)
    for f in sorted(os.listdir(tmp)):
        found.append(f'temp file {os.path.join(tmp, f)}')
    shutil.rmtree(tmp, ignore_errors=True)
    return found


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--only', choices=['unit', 'bpf', 'e2e', 'fuzz'])
    ap.add_argument('--build', default='build')
    ap.add_argument('--fuzz-seconds', type=int, default=20)
    ap.add_argument('--timeout', type=int, default=900)
    ap.add_argument('-k', dest='pattern', help='run only suites whose path contains this')
    args = ap.parse_args()
    # SIGTERM unwinds like Ctrl-C, so the running test is stopped and cleans up.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    os.chdir(ROOT)
    total = [0, 0, 0]
    chosen = [s for s in suites(args)
              if not args.pattern or args.pattern in os.path.basename(s[1])]
    for kind, path, cmd in chosen:
        if kind != 'fuzz':
            r = run_one(kind, path, cmd, args.timeout)
            total = [a + b for a, b in zip(total, r)]
    # Fuzzers are CPU-bound and share nothing: one per core at a time (they run last, alone).
    fuzz = [c for c in chosen if c[0] == 'fuzz']
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as ex:
        for r in ex.map(lambda c: run_one(c[0], c[1], c[2], args.timeout), fuzz):
            total = [a + b for a, b in zip(total, r)]
    print(f'{total[0]} passed, {total[1]} failed, {total[2]} skipped')
    return 1 if total[1] or sum(total) == 0 else 0


if __name__ == '__main__':
    sys.exit(main())
