#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""sysbench oltp_read_write with server-side prepared statements for 30 s on lo: the agent's
events equal the server's own statement counters (SHOW GLOBAL STATUS deltas), with zero ring-buffer
drops and zero TCP gaps; a /collector client receives one report per period whose counts add up
to the events."""
import collections
import json
import os
import re
import signal
import subprocess

import mp

PORT = 3314
SECONDS = int(os.environ.get('MP_SYSBENCH_SECONDS', '30'))
PERIOD_MS = 1000


def check_reports(col, events):
    reports = [r for _, r in col.reports]
    total = mp.report_counts(reports)
    mp.check(total == events, f'reports: sum of count {total} == events {events}')
    # Whole periods only: the first starts when the agent did, the last ends at SIGTERM.
    arrivals = [t for t, _ in col.reports[1:-1]]
    gaps = [b - a for a, b in zip(arrivals, arrivals[1:])]
    spans = {r['period_end_ms'] - r['period_start_ms'] for r in reports[1:-1]}
    mp.diag(f'{len(reports)} reports; spacing min {min(gaps) * 1000:.0f} ms, '
            f'max {max(gaps) * 1000:.0f} ms')
    mp.check(spans == {PERIOD_MS} and len(reports) >= SECONDS,
             f'one report per {PERIOD_MS} ms period', f'{spans} {len(reports)}')
    late = [g for g in gaps if abs(g * 1000 - PERIOD_MS) > PERIOD_MS / 10]
    mp.check(not late, 'every report arrives within 10% of its period after the previous',
             f'{[round(g, 3) for g in late]}')


def main():
    mp.need_root('live sysbench (namespace, BPF)')
    ns = mp.Netns('sb')
    mp.enter_netns(ns)
    db = mp.MariaDB(port=PORT, netns=ns)
    base = ['sysbench', 'oltp_read_write', '--db-driver=mysql', '--mysql-host=127.0.0.1',
            f'--mysql-port={PORT}', '--mysql-user=mp', '--mysql-password=mp',
            '--mysql-db=mp', '--tables=2', '--table-size=10000', '--db-ps-mode=auto']
    mp.sh(base + ['prepare'], netns=ns)

    def status():
        rows = db.sql("SHOW GLOBAL STATUS WHERE Variable_name IN "
                      "('Com_stmt_execute','Com_stmt_prepare','Com_stmt_close')",
                      socket=True, db=None)
        return {k: int(v) for k, v in rows}
    out = open(os.path.join(mp.tempdir('mp-sb-'), 'events.json'), 'w+')
    agent = mp.spawn([mp.BIN, '-p', str(PORT), '-o', 'events', '--report_period_ms',
                      str(PERIOD_MS)], netns=ns, what='agent', stdout=out,
                     stderr=subprocess.PIPE, text=True)
    line = agent.stderr.readline()
    if 'ready' not in line:
        mp.fail('agent starts', line)
        mp.done()
    col = mp.Collector(8667)
    s0 = status()
    r = subprocess.run(ns.cmd(base + ['run', '--threads=4', f'--time={SECONDS}']),
                       stdout=subprocess.PIPE, text=True)
    s1 = status()
    agent.send_signal(signal.SIGTERM)
    err = agent.communicate(timeout=60)[1]
    mp.poll(lambda: col.closed, what='the final report')
    db.stop()
    m = re.search(r'queries:\s+(\d+)\s+\(([\d.]+) per sec', r.stdout)
    mp.diag(f'sysbench: {m.group(0) if m else r.stdout[-300:]}')
    server = {k: s1[k] - s0[k] for k in s0}
    out.seek(0)
    cmds = collections.Counter(json.loads(l)['command'] for l in out)
    check_reports(col, sum(cmds.values()))
    mp.diag(f'server {server} agent {dict(cmds)}')
    mp.check(server['Com_stmt_execute'] > 10000 and
             cmds['execute'] == server['Com_stmt_execute'],
             f'executes: agent {cmds["execute"]} == server {server["Com_stmt_execute"]}')
    mp.check(cmds['prepare'] == server['Com_stmt_prepare'] and
             cmds['stmt_close'] == server['Com_stmt_close'],
             'prepares and closes equal the server\'s')
    dec = [l for l in err.splitlines() if 'decode:' in l]
    cap = [l for l in err.splitlines() if 'capture:' in l]
    mp.check(dec and ' gaps=0 ' in dec[-1] and 'decode_errors=0' in dec[-1] and
             'unknown_stmt=0' in dec[-1], 'zero gaps and decode errors', dec[-1] if dec else err)
    mp.check(cap and ' dropped=0' in cap[-1], 'zero ring-buffer drops', cap[-1] if cap else err)
    mp.done()


if __name__ == '__main__':
    main()
