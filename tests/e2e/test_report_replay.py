#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Reports from a replayed capture (periods follow capture time, a final partial period,
deterministic, the same with two workers) and the configuration surface: -c FILE, flags over
the file, and exit 2 with file:line: key: reason for bad settings."""
import collections
import json
import os
import subprocess
import tempfile

import mp

PORT = 3318
CONF = os.path.join(mp.ROOT, 'conf/mysqlprobe.yaml')


def capture(path):
    """About 3.5 s of traffic: bursts of statements separated by SLEEPs on the server."""
    import pymysql
    with mp.scope():
        mp.enter_netns(mp.Netns('rrp'))
        mp.MariaDB(port=PORT)
        dump = mp.Tcpdump(path, [PORT])
        c = pymysql.connect(host='127.0.0.1', port=PORT, user='mp', password='mp',
                            database='mp', autocommit=True)
        with c.cursor() as cur:
            for burst in range(7):
                for i in range(30):
                    cur.execute(f'SELECT {i} + {burst}')
                try:
                    cur.execute("SELECT 'x' FROM no_such_table")
                except pymysql.MySQLError:
                    pass
                cur.execute('SELECT SLEEP(0.5)')
        # A command of class 'other' with a reply.
        c.ping(reconnect=False)
        c.close()
        # The server's FIN in the file means the ping's reply and the COM_QUIT are there too.
        mp.poll(lambda: mp.tcpdump_server_fins(path, [PORT]) >= 1, every=0.1,
                what="the server's FIN in the capture")
        dropped = mp.tcpdump_dropped(dump.stop())
    mp.check(dropped == 0, 'the capture is whole (tcpdump dropped nothing)', f'{dropped}')


def replay(path, *args):
    r = subprocess.run([mp.BIN, '-r', path, '-p', str(PORT)] + list(args),
                       capture_output=True, text=True, timeout=120)
    return r


def check_periods(path):
    ev = replay(path, '-o', 'events')
    events = [json.loads(l) for l in ev.stdout.splitlines()]
    rep = replay(path, '-o', 'report', '--report_period_ms', '1000')
    reports = [json.loads(l) for l in rep.stdout.splitlines()]
    mp.check(ev.returncode == 0 and rep.returncode == 0 and len(events) > 200,
             'replay with -o events and -o report', rep.stderr[-300:])
    mp.diag(f'{len(events)} events, {len(reports)} reports')
    total = mp.report_counts(reports)
    mp.check(total == len(events), 'sum of count over the reports == events',
             f'{total} != {len(events)}')
    spans = [(r['period_start_ms'], r['period_end_ms']) for r in reports]
    mp.check(all(b[0] == a[1] for a, b in zip(spans, spans[1:])),
             'periods are contiguous', str(spans))
    mp.check(len(reports) >= 3 and all(e - s == 1000 for s, e in spans[1:-1]) and
             all(s % 1000 == 0 for s, _ in spans),
             'whole periods span 1000 ms on 1000 ms boundaries of capture time', str(spans))
    mp.check(spans[-1][1] - spans[-1][0] <= 1000, 'the last period is partial', str(spans[-1]))
    # A statement belongs to the period in which it completed (its response's last byte).
    done_in = collections.Counter()
    for e in events:
        end_ms = (e['ts_us'] + e['latency_us']) // 1000
        for i, (s, t) in enumerate(spans):
            if s <= end_ms < t or (i == len(spans) - 1 and end_ms == t):
                done_in[i] += 1
                break
    per = [sum(row['count'] for row in r['stats']) for r in reports]
    mp.check([done_in[i] for i in range(len(reports))] == per,
             'each statement is counted in the period it completed in',
             f'{per} vs {[done_in[i] for i in range(len(reports))]}')
    # Schema v2: each row counts one command class, the event's.
    cls = {'query': 'query', 'execute': 'execute', 'bulk_execute': 'execute',
           'prepare': 'prepare'}
    ev_cmd = collections.Counter(cls.get(e['command'], 'other') for e in events)
    row_cmd = collections.Counter()
    for r in reports:
        for row in r['stats']:
            row_cmd[row['command']] += row['count']
    mp.check(all(r['version'] == 2 for r in reports) and row_cmd == ev_cmd and
             row_cmd['other'] > 0, 'rows by command == events by command class',
             f'{dict(row_cmd)} vs {dict(ev_cmd)}')
    err = [row for r in reports for row in r['stats'] if row['errors']]
    mp.check(sum(row['errors'] for row in err) == 7 and
             all(row['error_codes'] == {'1146': row['errors']} for row in err),
             'errors counted with their code', str(err)[:300])
    slow = [s for r in reports for s in r['slow']]
    mp.check(len(slow) == 7 and all(s['sql'] == 'SELECT SLEEP(0.5)' for s in slow),
             'the SLEEPs are slow samples (slowthresholdms 100)', str(slow)[:300])
    again = replay(path, '-o', 'report', '--report_period_ms', '1000')
    mp.check(again.stdout == rep.stdout, 'report output is deterministic')
    two = replay(path, '-o', 'report', '--report_period_ms', '1000', '--workers', '2')
    per2 = [sum(row['count'] for row in json.loads(l)['stats'])
            for l in two.stdout.splitlines()]
    mp.check(per2 == per, 'two workers: the same counts per period', f'{per2} vs {per}')


def run_conf(text, *args):
    with tempfile.NamedTemporaryFile('w', suffix='.yaml', prefix='mp-conf-') as f:
        f.write(text)
        f.flush()
        r = subprocess.run([mp.BIN, '-c', f.name] + list(args), capture_output=True, text=True,
                           timeout=30)
        return r, f.name


def check_config(path):
    r = replay(path, '-c', CONF, '-o', 'report')
    mp.check(r.returncode == 0 and r.stdout.count('\n') >= 1,
             'the shipped conf/mysqlprobe.yaml loads', r.stderr[-300:])
    r, name = run_conf('probe:\n  port: 3318\nreport_period_ms: 2000\noutput: events\n',
                       '-r', path, '--report_period_ms', '500', '-o', 'report')
    spans = {json.loads(l)['period_end_ms'] - json.loads(l)['period_start_ms']
             for l in r.stdout.splitlines()[1:-1]}
    mp.check(r.returncode == 0 and spans == {500}, 'flags override the file', f'{spans}')
    cases = [
        ('interval: 5\nprobe:\n  workrs: 2\n', 3, 'probe.workrs', 'unknown'),
        ('serverport: 70000\n', 1, 'serverport', 'out of range'),
        ('slave: maybe\n', 1, 'slave', 'boolean'),
        ('\nprobe:\n  mode: ebpf\n', 3, 'probe.mode', 'ebpf'),
        ('probe:\n  ringbuf_mb: 3\n', 2, 'probe.ringbuf_mb', 'power of two'),
    ]
    for text, line, key, why in cases:
        r, name = run_conf(text, '-r', path)
        want = f'{name}:{line}: {key}: '
        mp.check(r.returncode == 2 and want in r.stderr and why in r.stderr,
                 f'bad {key} in the file: exit 2 with file:line: key: reason',
                 f'rc {r.returncode}: {r.stderr.strip()}')
    for args, key in ((['--interval', '0'], 'interval'), (['--probe.port', 'x'], 'probe.port'),
                      (['-o', 'csv'], 'output'), (['--report_period_ms', '50'],
                                                  'report_period_ms')):
        r = subprocess.run([mp.BIN] + args, capture_output=True, text=True, timeout=30)
        mp.check(r.returncode == 2 and f'--{key}: ' in r.stderr,
                 f'bad flag {" ".join(args)}: exit 2 naming the key', r.stderr.strip())
    r = subprocess.run([mp.BIN, '--no-such-flag'], capture_output=True, text=True)
    mp.check(r.returncode == 2, 'unknown flag: exit 2', r.stderr.strip())
    r = subprocess.run([mp.BIN, '-c', '/nonexistent.yaml'], capture_output=True, text=True)
    mp.check(r.returncode == 2 and '/nonexistent.yaml' in r.stderr,
             'missing config file: exit 2 naming it', r.stderr.strip())
    helptext = subprocess.run([mp.BIN, '--help'], capture_output=True, text=True).stdout
    # Keys by indentation: a line ending in ':' opens a section (sinks.clickhouse.url).
    keys, path = [], []
    for line in open(CONF):
        if line.strip().startswith('#') or ':' not in line:
            continue
        k = line.split(':')[0]
        depth = (len(k) - len(k.lstrip(' '))) // 2
        path = path[:depth]
        if line.rstrip().endswith(':'):
            path.append(k.strip())
        else:
            keys.append('.'.join(path + [k.strip()]))
    missing = [k for k in keys if f'--{k}' not in helptext]
    mp.check(len(keys) > 25 and not missing, '--help lists a flag for every key of the file',
             str(missing))


def main():
    mp.need_root('capture from a real server (namespace)')
    with tempfile.TemporaryDirectory(prefix='mp-rrp-') as d:
        path = os.path.join(d, 'traffic.pcap')
        capture(path)
        check_periods(path)
        check_config(path)
    mp.done()


if __name__ == '__main__':
    main()
