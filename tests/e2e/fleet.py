# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""A small fleet for cluster tests: N slaves, each in its own network namespace with its own
MariaDB and agent, and a master namespace joined to each slave by a veth pair
(master 10.232.K.1 <-> slave K 10.232.K.2). Everything is undone by mp's cleanup stack."""
import collections
import os
import re
import subprocess

import mp

HTTP = 8667  # inside each namespace: no host port is taken
DB_PORT = 3306
TOKEN = 'fleet-cluster-token'
SYSBENCH = ['sysbench', 'oltp_read_only', '--db-driver=mysql', '--mysql-host=127.0.0.1',
            f'--mysql-port={DB_PORT}', '--mysql-user=mp', '--mysql-password=mp',
            '--tables=1', '--table-size=2000', '--db-ps-mode=auto']


class Slave:
    def __init__(self, k, master_ns, period_ms, token_file):
        self.k = k
        self.ns = mp.Netns(f's{k}')
        mp.veth_pair(master_ns, self.ns, f'10.232.{k}.1', f'10.232.{k}.2', f'm{k}', 'up0')
        self.addr = f'10.232.{k}.2:{HTTP}'
        # Each slave's load uses its own database: the master's rows tell the slaves apart.
        self.dbname = f'mp{k}'
        self.sysbench = SYSBENCH + [f'--mysql-db={self.dbname}']
        self.period_ms = period_ms
        self.token_file = token_file
        self.db = mp.MariaDB(port=DB_PORT, netns=self.ns)
        self.agent = None
        self.runs = []  # agents of earlier runs (restarts), for their reports

    def start(self, extra=()):
        self.agent = mp.Agent(['-p', str(DB_PORT), '-o', 'report', '--report_period_ms',
                               str(self.period_ms), '--serverport', str(HTTP),
                               '--http.bind', '0.0.0.0', '--cluster.token_file',
                               self.token_file] + list(extra), netns=self.ns)
        self.runs.append(self.agent)
        self.agent.wait_ready()

    def reports(self):
        return [r for a in self.runs for r in a.json_lines()]

    def status(self, names):
        rows = self.db.sql('SHOW GLOBAL STATUS WHERE Variable_name IN (%s)' %
                           ','.join(f"'{n}'" for n in names), socket=True, db=None)
        return {k: int(v) for k, v in rows}


class Fleet:
    def __init__(self, n=3, period_ms=1000):
        self.tmp = mp.tempdir('mp-fleet-')
        self.token_file = os.path.join(self.tmp, 'cluster.token')
        with open(self.token_file, 'w') as f:
            f.write(TOKEN + '\n')
        os.chmod(self.token_file, 0o600)
        self.period_ms = period_ms
        self.master_ns = mp.Netns('mst')
        self.slaves = [Slave(k, self.master_ns, period_ms, self.token_file) for k in range(n)]
        self.masters = []

    def master(self, port=HTTP, slaves=None, state=None, extra=(), token_file=None):
        """A master in the master namespace; slaves: the cluster.slaves list (None: none);
        token_file: its cluster.token_file ('' for none; default the fleet's)."""
        tf = self.token_file if token_file is None else token_file
        args = ['--slave=false', '-o', 'report', '--report_period_ms', str(self.period_ms),
                '--serverport', str(port)] + (['--cluster.token_file', tf] if tf else []) + [
                '--cluster.state_file', state or os.path.join(self.tmp, f'state-{port}')]
        if slaves:
            args += ['--cluster.slaves', ','.join(slaves)]
        m = mp.Agent(args + list(extra), netns=self.master_ns)
        m.wait_ready()
        self.masters.append(m)
        return m

    def master_get(self, port, path, token=None, ns=None, host='127.0.0.1', headers=()):
        """GET http://host:port/path from the master namespace (or ns): (status, body)."""
        argv = ['curl', '-g', '-s', '-o', '-', '-w', '\n%{http_code}', '--max-time', '10']
        if token:
            argv += ['-H', f'Authorization: Bearer {token}']
        for h in headers:
            argv += ['-H', h]
        r = (ns or self.master_ns).run(argv + [f'http://{host}:{port}{path}'], check=False)
        body, _, code = r.stdout.rpartition('\n')
        return int(code or 0), body

    def sysbench(self, seconds, threads=2):
        """sysbench oltp_read_only (prepared statements) on every slave at once."""
        self.sysbench_wait(self.sysbench_start(seconds, threads), seconds)

    def sysbench_start(self, seconds, threads=2):
        return [subprocess.Popen(s.ns.cmd(s.sysbench + ['run', f'--threads={threads}',
                                                        f'--time={seconds}']),
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for s in self.slaves]

    @staticmethod
    def sysbench_wait(procs, seconds):
        out = [p.communicate(timeout=seconds + 120) for p in procs]
        for p, (o, e) in zip(procs, out):
            if p.returncode:
                raise mp.SetupError(p.returncode, p.args, o, e)

    def prepare(self):
        for s in self.slaves:
            s.db.sql(f'CREATE DATABASE {s.dbname}', socket=True, db=None)
            s.ns.run(s.sysbench + ['prepare'])


def row_key(row):
    return (row['template_id'], row['command'], row['db'], row['user'], row['client'])


def period_key(r, period_ms):
    return -(-r['period_end_ms'] // period_ms) * period_ms


def rows_by_period(reports, period_ms):
    """{period end: {row key: [count, errors, rows_sent, latency histogram]}}, summed."""
    out = collections.defaultdict(dict)
    for r in reports:
        p = period_key(r, period_ms)
        for row in r['stats']:
            k = row_key(row)
            cur = out[p].setdefault(k, [0, 0, 0, collections.Counter()])
            cur[0] += row['count']
            cur[1] += row['errors']
            cur[2] += row['rows_sent']
            cur[3].update(hist_buckets(row['latency_us']))
    return out


def hist_buckets(h):
    """A latency histogram as {bucket: count}, plus its sum, min and max (docs/REPORT.md)."""
    c = collections.Counter({('b', b): n for b, n in h['hist']})
    c[('sum',)] += h['sum']
    return c


def totals(reports, db=None):
    """Statements by command, of database db only when given."""
    t = collections.Counter()
    for r in reports:
        for row in r['stats']:
            if db is None or row['db'] == db:
                t[row['command']] += row['count']
    return t


def sum_rows_by_period(report_lists, period_ms):
    """rows_by_period of several nodes' reports, added up."""
    want = collections.defaultdict(dict)
    for reps in report_lists:
        for p, rows in rows_by_period(reps, period_ms).items():
            for k, v in rows.items():
                cur = want[p].setdefault(k, [0, 0, 0, collections.Counter()])
                for i in range(3):
                    cur[i] += v[i]
                cur[3].update(v[3])
    return want


def differing_periods(master_reports, slave_reports, period_ms):
    """(periods with rows, periods whose merged rows differ from the slaves' sum)."""
    want = sum_rows_by_period(slave_reports, period_ms)
    got = rows_by_period(master_reports, period_ms)
    busy = [p for p in want if want[p]]
    bad = sorted(p for p in set(want) | set(got) if want.get(p, {}) != got.get(p, {}))
    return busy, bad


def merged_through(master, slave_last):
    """Every slave's last seq (addr -> seq) appears in a report master emitted."""
    seen = collections.defaultdict(int)
    for r in master.json_lines():
        for name, n in r.get('nodes', {}).items():
            seen[name] = max(seen[name], n['seq'])
    return all(seen[a] >= s for a, s in slave_last.items())


def listnodes(fleet, port, token=None):
    import json
    st, body = fleet.master_get(port, '/cluster/listnodes', token=token)
    return st, (json.loads(body) if st == 200 else body)


def period_of_template(reports, pattern):
    return sum(row['count'] for r in reports for row in r['stats']
               if re.search(pattern, r['templates'].get(row['template_id'], '')))
