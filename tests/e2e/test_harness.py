#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The end-to-end harness itself (mp.py): a failing setup command is named with its stderr
(also the real one: ip netns exec in a chroot whose root is not a mount point),
and whatever a test created — namespaces and their mounts, a veth, MariaDB, an agent,
tcpdump, other processes, temp dirs — is gone however the test ends: an uncaught exception,
SIGTERM, SIGINT. A case that fails leaves the next case running. A MariaDB that exits before
it is ready, or dies later, is reported at once with the tail of its error log.

Each planted failure runs in a child Python process of its own (its own session and TMPDIR),
so that what it leaves behind can be looked for after it exited.
"""
import os
import signal
import subprocess
import time

import mp

E2E = os.path.dirname(os.path.abspath(__file__))
PLANTED = '/nonexistent/mp-planted-command'

# Sets up what a real test does, then fails in one of several ways (argv[1]).
CHILD = r'''
import os, signal, sys
import mp
how = sys.argv[1]
if how == 'case':
    with mp.case('first case'):
        ns = mp.Netns('hc')
        d = mp.tempdir('mp-case-')
        p = ns.popen(['sleep', '600'])
        print('CASE1', ns.name, d, p.pid, flush=True)
        raise RuntimeError('planted failure in the first case')
    alive = p.poll() is None
    print('AFTER', os.path.exists('/run/netns/' + ns.name), os.path.exists(d), alive, flush=True)
    with mp.case('second case'):
        mp.ok('second case runs')
    mp.done()
if how == 'netns':
    mp.Netns('hx')
a, b = mp.Netns('ha'), mp.Netns('hb')
mp.veth_pair(a, b)
tmp = mp.tempdir('mp-harness-')
db = mp.MariaDB(netns=a)
agent = mp.Agent(['-i', 'lo', '-p', '3306', '-o', 'none'], netns=a)
agent.wait_ready()
dump = mp.Tcpdump(os.path.join(tmp, 'x.pcap'), [3306], netns=a)
sleeper = b.popen(['sleep', '600'])
print('PIDS', db.proc.pid, agent.proc.pid, dump.proc.pid, sleeper.pid, flush=True)
print('NAMES', a.name, b.name, tmp, flush=True)
if how == 'fail':
    a.run([sys.argv[2], '--planted'])
print('READY', flush=True)
signal.pause()
'''


def alive(pid):
    """True while pid exists and is not a zombie."""
    try:
        with open(f'/proc/{pid}/stat') as f:
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except OSError:
        return False


def session_procs(sid):
    out = []
    for d in os.listdir('/proc'):
        if d.isdigit():
            try:
                with open(f'/proc/{d}/stat') as f:
                    fields = f.read().rsplit(')', 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == sid and fields[0] != 'Z':
                out.append(int(d))
    return out


# Runs argv in a chroot whose root is not a mount point, as a new user's plain chroot: a
# directory on a tmpfs, with the host's /usr, /etc, /proc, /sys, /dev, /run, /tmp and the
# repository bound in, all in a mount namespace of its own that vanishes with it.
IN_BARE_CHROOT = r"""set -e
mount -t tmpfs mp-bare "$1"; r="$1/r"; mkdir "$r"
for d in usr etc proc sys dev run tmp; do mkdir "$r/$d"; mount --rbind "/$d" "$r/$d"; done
for l in bin sbin lib lib64; do [ -L "/$l" ] && ln -s "$(readlink "/$l")" "$r/$l"; done
mkdir -p "$r$2"; mount --rbind "$2" "$r$2"
shift 2; exec chroot "$r" "$@"
"""


class Child:
    """The child script running with its own session and TMPDIR; its output collected.
    bare_chroot: in a chroot whose root is not a mount point."""

    def __init__(self, *args, bare_chroot=False):
        self.tmp = mp.tempdir('mp-harness-tmp-', mode=0o755)
        env = dict(os.environ, TMPDIR=self.tmp, PYTHONPATH=E2E)
        argv = ['/usr/bin/python3', '-c', CHILD] + list(args)
        if bare_chroot:
            argv = ['unshare', '--mount', 'sh', '-c', IN_BARE_CHROOT, 'sh',
                    mp.tempdir('mp-bare-'), mp.ROOT] + argv
        self.proc = mp.spawn(argv, what='harness child', stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, env=env,
                             start_new_session=True)
        self.out = []

    def read_until(self, word, timeout=90):
        """Lines until one starts with word (returned); None if the child ended first."""
        end = time.time() + timeout
        for line in self.proc.stdout:
            self.out.append(line.rstrip('\n'))
            if line.startswith(word):
                return line.split()[1:]
            if time.time() > end:
                break
        return None

    def finish(self, timeout=60):
        """Waits for the exit; returns (exit code, seconds waited, whole output)."""
        t0 = time.time()
        rest = self.proc.communicate(timeout=timeout)[0]
        self.out += rest.splitlines()
        return self.proc.returncode, time.time() - t0, '\n'.join(self.out)


def nothing_left(name, child, pids=()):
    """Checks the child left no namespace, mount, process, veth or temp file behind."""
    pid = child.proc.pid
    netns = mp.sh(['ip', 'netns', 'list']).stdout
    ours = [l.split()[0] for l in netns.splitlines()
            if l.split() and l.split()[0].endswith(f'-{pid}')]
    mp.check(not ours, f'{name}: no namespace of it left (ip netns list)', str(ours))
    with open('/proc/self/mountinfo') as f:
        mounts = [l for l in f if f'-{pid} ' in l and '/run/netns/' in l]
    mp.check(not mounts, f'{name}: no mount under /run/netns of it left', ''.join(mounts))
    procs = [p for p in pids if alive(p)] + session_procs(pid)
    mp.check(not procs, f'{name}: none of its processes left (MariaDB, agent, tcpdump, '
             f'sleep, or any in its session)', str(procs))
    links = mp.sh(['ip', '-o', 'link', 'show']).stdout
    veth = [l for l in links.splitlines() if f'mpa{pid % 100000}' in l or
            f'mpb{pid % 100000}' in l]
    mp.check(not veth, f'{name}: no veth of it left', str(veth))
    files = os.listdir(child.tmp)
    mp.check(not files, f'{name}: nothing left in its TMPDIR', str(files))


def planted_command():
    """A setup command fails: ip netns exec cannot run a program, as when / is not a mount
    point (the real case exits 255 with "mount --make-rslave /" failed)."""
    child = Child('fail', PLANTED)
    pids = [int(p) for p in child.read_until('PIDS') or []]
    names = child.read_until('NAMES') or []
    rc, _, out = child.finish()
    mp.check(len(pids) == 4 and len(names) == 3, 'planted failure: the child set everything up',
             out[-2000:])
    want = [f'`ip netns exec mpt-ha-{child.proc.pid} {PLANTED} --planted` failed (exit status ',
            f'exec of "{PLANTED}" failed: No such file or directory']
    missing = [w for w in want if w not in out]
    mp.check(rc == 1 and not missing, 'planted failure: the failing command and its stderr '
             'are printed', f'rc {rc}, missing {missing}: {out[-1500:]}')
    mp.check('not ok 1 - -c stopped: SetupError: `ip netns exec mpt-ha-' in out,
             'planted failure: one failing TAP line names the command', out[-1500:])
    nothing_left('planted failure', child, pids)


def bare_chroot():
    """The real failure: ip netns exec in a chroot whose root is not a mount point."""
    child = Child('netns', bare_chroot=True)
    rc, _, out = child.finish()
    want = [f'`ip netns exec mpt-hx-{child.proc.pid} ip link set lo up` failed (exit status 255)',
            '"mount --make-rslave /" failed: Invalid argument',
            'ip netns exec needs / to be a mount point']
    missing = [w for w in want if w not in out]
    mp.check(rc == 1 and not missing, 'chroot whose root is not a mount point: the failing '
             'command, its stderr and the remedy are printed', f'rc {rc}, missing {missing}: '
             f'{out[-1500:]}')
    nothing_left('chroot whose root is not a mount point', child)


def signalled(sig, twice=False):
    """sig while the child waits; twice: again once its cleanup started (the sleeper, made
    last, is undone first), which must not cut the cleanup short."""
    name = signal.Signals(sig).name + (' twice' if twice else '')
    child = Child('wait')
    pids = [int(p) for p in child.read_until('PIDS') or []]
    child.read_until('NAMES')
    ready = child.read_until('READY')
    if not mp.check(ready is not None and len(pids) == 4, f'{name}: the child set everything up',
                    '\n'.join(child.out[-30:])):
        return
    child.proc.send_signal(sig)
    if twice:
        mp.poll(lambda: not alive(pids[3]), timeout=30, what='the cleanup to start')
        mp.diag(f'{name}: second signal while the child still runs: {alive(child.proc.pid)}')
        child.proc.send_signal(sig)
    rc, dt, out = child.finish()
    mp.diag(f'{name}: child exited {rc} {dt:.1f} s after the signal')
    mp.check(rc == 128 + sig, f'{name}: the child exits {128 + sig}', f'rc {rc}: {out[-1500:]}')
    nothing_left(name, child, pids)


def failing_case():
    child = Child('case')
    rc, _, out = child.finish()
    mp.check('not ok 1 - first case: RuntimeError: planted failure in the first case' in out,
             'case(): an exception is one failing line with its cause', out[-1500:])
    mp.check('AFTER False False False' in out,
             'case(): its namespace, temp dir and process are gone when it ends', out[-1500:])
    mp.check('ok 2 - second case runs' in out and rc == 1,
             'case(): the next case still runs; the test fails', f'rc {rc}: {out[-500:]}')
    nothing_left('case()', child)


def scope_after_early_close():
    """A scope removes all it created even when something older was closed inside it."""
    outer = mp.tempdir('mp-outer-')
    with mp.scope():
        first = mp.tempdir('mp-inner-')
        mp.remove_unless_kept(outer)
        second = mp.tempdir('mp-inner-')
    left = [d for d in (outer, first, second) if os.path.exists(d)]
    mp.check(not left, 'scope(): everything made inside is removed, though an older temp dir '
             'was removed inside it', str(left))


def mariadb_early_exit(ns):
    """A bad option: mariadbd exits at once, and the exception says why."""
    before = set(os.listdir(os.environ.get('TMPDIR', '/tmp')))
    t0 = time.time()
    err = ''
    try:
        mp.MariaDB(netns=ns, extra=['--mp-planted-bad-option=1'])
    except RuntimeError as e:
        err = str(e)
    dt = time.time() - t0
    mp.diag(f'bad option: raised after {dt:.1f} s: {err[:300]}')
    mp.check('exited with status' in err and "unknown variable 'mp-planted-bad-option=1'" in err,
             'MariaDB with a bad option: the exception gives its exit and the error log line',
             err[-1000:])
    # mariadb-install-db alone takes a few seconds; the ready timeout is 60 s.
    mp.check(dt < 20, 'MariaDB with a bad option: reported without waiting for the timeout',
             f'{dt:.1f} s')
    after = set(os.listdir(os.environ.get('TMPDIR', '/tmp')))
    mp.check(not [d for d in after - before if d.startswith('mp-mariadb-')],
             'MariaDB with a bad option: its temp dir is removed', str(after - before))


def mariadb_dies(ns):
    """A server that dies during the test: the next statement says so, with the log tail."""
    db = mp.MariaDB(netns=ns)
    db.sql('SHUTDOWN', socket=True, db=None)
    mp.poll(lambda: db.proc.poll() is not None, timeout=30, what='mariadbd to exit')
    err = ''
    try:
        db.sql('SELECT 1')
    except RuntimeError as e:
        err = str(e)
    mp.check('mariadbd exited with status 0' in err and 'Shutdown complete' in err,
             'a MariaDB that died: the failing statement gives its exit and error log',
             err[-1000:])
    db.stop()


def main():
    mp.need_root('harness (namespaces)')
    if not os.access(mp.BIN, os.X_OK):
        mp.skip('harness', f'{mp.BIN} is not built')
        mp.done()
    with mp.case('planted failing command'):
        planted_command()
    with mp.case('bare chroot'):
        bare_chroot()
    for sig, twice in ((signal.SIGTERM, False), (signal.SIGINT, False), (signal.SIGTERM, True)):
        with mp.case(signal.Signals(sig).name):
            signalled(sig, twice)
    with mp.case('case()'):
        failing_case()
    with mp.case('scope()'):
        scope_after_early_close()
    with mp.scope():
        ns = mp.Netns('hdb')
        with mp.case('MariaDB early exit'):
            mariadb_early_exit(ns)
        with mp.case('MariaDB dies'):
            mariadb_dies(ns)
    mp.done()


if __name__ == '__main__':
    main()
