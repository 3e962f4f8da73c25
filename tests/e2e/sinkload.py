# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""For the sink tests: a namespace with MariaDB, a live sysbench load on it, the server's own
statement counters, and the sums the agent's reports give per (template, command)."""
import collections
import math
import subprocess

import mp

DB_PORT = 3306
HTTP = 8667  # inside the test's namespace: no host port is taken
SYSBENCH = ['sysbench', 'oltp_read_write', '--db-driver=mysql', '--mysql-host=127.0.0.1',
            f'--mysql-port={DB_PORT}', '--mysql-user=mp', '--mysql-password=mp',
            '--mysql-db=mp', '--tables=2', '--table-size=5000', '--db-ps-mode=auto']
COUNTERS = ('Com_stmt_execute', 'Com_stmt_prepare', 'Com_stmt_close')


class Host:
    """A namespace with a MariaDB that sysbench's tables are prepared in."""

    def __init__(self, tag):
        self.ns = mp.Netns(tag)
        mp.enter_netns(self.ns)
        self.db = mp.MariaDB(port=DB_PORT, netns=self.ns)
        mp.sh(SYSBENCH + ['prepare'], netns=self.ns)

    def status(self):
        """The server's statement counters (over the socket: the agent does not see it)."""
        rows = self.db.sql('SHOW GLOBAL STATUS WHERE Variable_name IN (%s)' %
                           ','.join(f"'{n}'" for n in COUNTERS), socket=True, db=None)
        return {k: int(v) for k, v in rows}

    def sysbench(self, seconds, threads=4):
        """Starts sysbench run in the background; wait() on what it returns."""
        return subprocess.Popen(self.ns.cmd(SYSBENCH + ['run', f'--threads={threads}',
                                                        f'--time={seconds}']),
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def metrics(self, port=HTTP):
        """The agent's /metrics as {name: value} (labels kept in the name)."""
        code, text = mp.http_get(f'http://127.0.0.1:{port}/metrics')
        out = {}
        for line in text.splitlines() if code == 200 else ():
            if line and not line.startswith('#'):
                k, _, v = line.rpartition(' ')
                out[k] = float(v)
        return out


def report_sums(reports):
    """{(template_id, command): count} over every stats row of the reports."""
    sums = collections.Counter()
    for r in reports:
        for row in r['stats']:
            sums[(row['template_id'], row['command'])] += row['count']
    return sums


def command_sums(reports):
    out = collections.Counter()
    for (_, cmd), n in report_sums(reports).items():
        out[cmd] += n
    return out


def check_server(reports, server):
    """The reports' executes and prepares equal the server's counter deltas."""
    cmds = command_sums(reports)
    mp.check(server['Com_stmt_execute'] > 1000 and cmds['execute'] == server['Com_stmt_execute'],
             f'reports: executes {cmds["execute"]} == server Com_stmt_execute '
             f'{server["Com_stmt_execute"]}')
    mp.check(cmds['prepare'] == server['Com_stmt_prepare'],
             f'reports: prepares {cmds["prepare"]} == server Com_stmt_prepare '
             f'{server["Com_stmt_prepare"]}')


def merged_hist(reports, key):
    """The latency histogram of one (template, command) over every report: {upper: count},
    min and max."""
    h, lo, hi = collections.Counter(), None, None
    for r in reports:
        for row in r['stats']:
            if (row['template_id'], row['command']) != key or not row['count']:
                continue
            lat = row['latency_us']
            for upper, n in lat['hist']:
                h[upper] += n
            lo = lat['min'] if lo is None else min(lo, lat['min'])
            hi = lat['max'] if hi is None else max(hi, lat['max'])
    return h, lo, hi


def bucket_lower(upper):
    """The smallest value of the histogram bucket whose inclusive upper bound is upper
    (docs/REPORT.md: width 1 below 128, then 1/64 of the power of two)."""
    if upper < 128:
        return upper
    return upper - (1 << (upper.bit_length() - 1 - 6)) + 1


def p99(h, lo, hi):
    """hist_percentile(0.99): the nearest-rank bucket's midpoint, clamped to [min, max]."""
    total = sum(h.values())
    rank, seen = max(1, math.ceil(0.99 * total)), 0
    for upper in sorted(h):
        seen += h[upper]
        if seen >= rank:
            lower = bucket_lower(upper)
            return min(max(lower + (upper - lower) // 2, lo), hi)
    return hi
