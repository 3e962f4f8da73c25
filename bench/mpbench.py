# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Shared pieces of the Python benches: sysbench against the bench's own MariaDB, processes timed
with their CPU and peak RSS (os.wait4), the agent's counter lines, and the server's counters.

Not a bench itself (bench/run.py runs only bench_*.py).
"""
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'e2e'))
import mp  # noqa: E402

BIN = mp.BIN
TABLE_SIZE = 10000


def rel(path):
    """A path as the reader of BENCHMARKS.md would type it: relative to the checkout."""
    return os.path.relpath(path, ROOT) if path.startswith(ROOT + os.sep) else path


def shell(argv):
    return ' '.join(rel(a) if os.sep in a else a for a in argv)


def median(xs):
    return statistics.median(xs) if xs else 0.0


# The agent's production output: per-period reports (aggregated, on stdout; the benches discard
# stdout). Statements are counted from its `mysqlprobe: decode: events=` line.
OUTPUT = 'report'


# ---------------------------------------------------------------- sysbench
class Sysbench:
    """One sysbench workload against 127.0.0.1:port inside a namespace."""

    def __init__(self, ns, port, workload, ps_mode='auto', tables=1):
        self.ns, self.workload, self.ps_mode = ns, workload, ps_mode
        self.base = ['sysbench', workload, '--db-driver=mysql', '--mysql-host=127.0.0.1',
                     f'--mysql-port={port}', '--mysql-user=mp', '--mysql-password=mp',
                     '--mysql-db=mp', f'--tables={tables}', f'--table-size={TABLE_SIZE}',
                     f'--db-ps-mode={ps_mode}']

    def prepare(self):
        subprocess.run(self.ns.cmd(self.base + ['prepare']), check=True,
                       stdout=subprocess.DEVNULL)

    def run_argv(self, args):
        return self.base + ['run'] + list(args)

    def run(self, args):
        r = subprocess.run(self.ns.cmd(self.run_argv(args)), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
        if r.returncode != 0:
            raise RuntimeError(f'sysbench failed: {r.stdout[-1500:]}')
        return SysbenchResult(r.stdout)


class SysbenchResult:
    def __init__(self, out):
        self.out = out
        m = re.search(r'queries:\s+(\d+)\s+\(([\d.]+) per sec', out)
        self.queries = int(m.group(1)) if m else 0
        self.qps = float(m.group(2)) if m else 0.0
        # --report-interval=1 lines: "[ 3s ] thds: 8 tps: ... qps: 61234.50 (r/w/o: ...)"
        self.per_s = [float(x) for x in re.findall(r'^\[ *\d+s \].*? qps: ([\d.]+)', out, re.M)]

    @property
    def qps_median(self):
        return median(self.per_s) if self.per_s else self.qps


# ---------------------------------------------------------------- server counters
STATUS_VARS = ('Questions', 'Com_stmt_execute', 'Com_stmt_prepare', 'Com_stmt_close')


class ServerStatus:
    """SHOW GLOBAL STATUS over one persistent unix-socket connection, so reading the counters
    adds exactly one statement (the SHOW itself) and no connect/quit to the deltas."""

    def __init__(self, db):
        import pymysql
        self.conn = pymysql.connect(unix_socket=db.sock, user='root', autocommit=True)

    def read(self):
        with self.conn.cursor() as cur:
            cur.execute('SHOW GLOBAL STATUS WHERE Variable_name IN (%s)' %
                        ','.join(f"'{v}'" for v in STATUS_VARS))
            return {k: int(v) for k, v in cur.fetchall()}

    def close(self):
        self.conn.close()


def server_statements(s0, s1):
    """Client commands the server received between two readings, in the agent's unit (one event
    per command). Questions counts every client command, COM_QUIT included, but not
    COM_STMT_PREPARE / COM_STMT_CLOSE (MariaDB skips those in Questions), so they are added from
    their Com_ counters; the SHOW that took the second reading is taken off."""
    d = {k: s1[k] - s0[k] for k in s0}
    return d['Questions'] - 1 + d['Com_stmt_prepare'] + d['Com_stmt_close'], d


# ---------------------------------------------------------------- processes
class Proc:
    """A background process whose stderr goes to a file; it is reaped with os.wait4 (never by
    Popen) so its user+sys CPU and peak RSS are known."""

    def __init__(self, argv, stdout=subprocess.DEVNULL):
        self.argv = list(argv)
        self.errf = tempfile.TemporaryFile('w+')
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(self.argv, stdout=stdout, stderr=self.errf)
        self.wall = self.cpu = self.user = self.sys = 0.0
        self.maxrss_kb = 0
        self.status = None

    def err(self):
        self.errf.seek(0)
        return self.errf.read()

    def _reap(self, flags):
        pid, status, ru = os.wait4(self.proc.pid, flags)
        if pid == 0:
            return False
        self.status = os.waitstatus_to_exitcode(status)
        self.proc.returncode = self.status  # Popen must not try to reap it again
        self.wall = time.monotonic() - self.t0
        self.user, self.sys = ru.ru_utime, ru.ru_stime
        self.cpu = ru.ru_utime + ru.ru_stime
        self.maxrss_kb = ru.ru_maxrss
        return True

    def running(self):
        return self.status is None and not self._reap(os.WNOHANG)

    def wait_for(self, word, timeout=30):
        def seen():
            if not self.running():
                raise RuntimeError(f'{self.argv} exited {self.status}: {self.err()[-1500:]}')
            return word in self.err()
        mp.poll(seen, timeout=timeout, every=0.05, what=f'{word} from {self.argv}')

    def stop(self, sig=signal.SIGTERM):
        if self.running():
            os.kill(self.proc.pid, sig)
        return self.wait()

    def wait(self):
        if self.status is None:
            self._reap(0)
        return self


def run_timed(argv, stdout=subprocess.DEVNULL):
    """Runs argv to completion: Proc with wall, CPU, peak RSS and stderr."""
    p = Proc(argv, stdout=stdout)
    return p.wait()



def save_results(name, d):
    """Hands figures to bench/run.py's goals table (it sets MP_BENCH_RESULTS to a directory)."""
    out = os.environ.get('MP_BENCH_RESULTS')
    if out:
        import json
        with open(os.path.join(out, f'{name}.json'), 'w') as f:
            json.dump(d, f)


def fmt_int(x):
    return f'{x:,.0f}'


def log(msg):
    print(f'bench: {msg}', file=sys.stderr, flush=True)
