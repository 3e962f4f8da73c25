#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""sysbench oltp_read_only with server-side prepared statements (--db-ps-mode=auto) against a
MariaDB in a namespace of its own: in the agent's reports (schema v2) every row has one command,
the execute rows add up to the server's Com_stmt_execute delta and the prepare rows to its
Com_stmt_prepare delta, and per statement an execute row counts exactly what sysbench ran (a
COM_STMT_PREPARE never lands in its executes' row) and a prepare row one prepare per thread."""
import collections
import os
import re
import subprocess

import mp

PORT = 3306  # inside the test's own namespace: no host port is taken
THREADS = 4
SECONDS = int(os.environ.get('MP_SYSBENCH_SECONDS', '10'))
PERIOD_MS = 1000
COMMANDS = {'query', 'execute', 'prepare', 'other'}

# Executes per oltp_read_only transaction (sysbench 1.0 oltp_common.lua defaults: 10 point
# selects, one of each range query, all in BEGIN/COMMIT; with --tables=1 all on sbtest1), keyed
# by a name the statement's template is recognised by (statement_of).
PER_TX = {'begin': 1, 'commit': 1, 'point': 10, 'simple_range': 1, 'sum_range': 1,
          'order_range': 1, 'distinct_range': 1}


def statement_of(template):
    """Which oltp_read_only statement a template is, or None."""
    t = re.sub(r'\s+', ' ', template.upper())
    if t == 'BEGIN':
        return 'begin'
    if t == 'COMMIT':
        return 'commit'
    if 'SBTEST1' not in t:
        return None
    if 'DISTINCT' in t:
        return 'distinct_range'
    if 'SUM(' in t.replace(' ', ''):
        return 'sum_range'
    if 'ORDER BY' in t:
        return 'order_range'
    if 'BETWEEN' in t:
        return 'simple_range'
    return 'point' if re.search(r'ID ?= ?\?', t) else None


def server_status(db):
    """Com_stmt_* from SHOW GLOBAL STATUS, read over the Unix socket: the agent does not see
    this connection, and a COM_QUERY is not counted in Com_stmt_*."""
    rows = db.sql("SHOW GLOBAL STATUS WHERE Variable_name IN "
                  "('Com_stmt_execute','Com_stmt_prepare','Com_stmt_close')",
                  socket=True, db=None)
    return {k: int(v) for k, v in rows}


def run_workload(ns, db):
    """Starts the agent, runs sysbench; returns (reports, server deltas, transactions,
    agent stderr)."""
    base = ['sysbench', 'oltp_read_only', '--db-driver=mysql', '--mysql-host=127.0.0.1',
            f'--mysql-port={PORT}', '--mysql-user=mp', '--mysql-password=mp', '--mysql-db=mp',
            '--tables=1', '--table-size=10000', '--db-ps-mode=auto']
    # Before the agent starts: the table load is not part of what the test counts.
    subprocess.run(ns.cmd(base + ['prepare']), check=True, stdout=subprocess.DEVNULL)
    agent = mp.Agent(['-p', str(PORT), '-o', 'report', '--report_period_ms', str(PERIOD_MS)],
                     netns=ns)
    try:
        agent.wait_ready()
        s0 = server_status(db)
        r = subprocess.run(ns.cmd(base + ['run', f'--threads={THREADS}', f'--time={SECONDS}']),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        s1 = server_status(db)
    finally:
        rc = agent.stop()  # SIGTERM: the final partial period is reported before exit
    mp.check(r.returncode == 0 and rc == 0, 'sysbench runs and the agent exits 0',
             f'sysbench {r.returncode} {r.stderr[-300:]} agent {rc} {agent.err[-5:]}')
    m = re.search(r'transactions:\s+(\d+)', r.stdout)
    mp.diag(f'sysbench: {m.group(0) if m else r.stdout[-300:]}')
    return (agent.json_lines(), {k: s1[k] - s0[k] for k in s0}, int(m.group(1)) if m else 0,
            agent.err)


def check_rows(reports, templates):
    rows = [row for r in reports for row in r['stats']]
    mp.check(reports and all(r['version'] == 2 for r in reports), 'reports are version 2',
             str({r.get('version') for r in reports}))
    mp.check(all(row['command'] in COMMANDS for row in rows), 'every row has one command',
             str({row.get('command') for row in rows}))
    keys = [(i, row['template_id'], row['command'], row['db'], row['user'], row['client'])
            for i, r in enumerate(reports) for row in r['stats']]
    mp.check(len(keys) == len(set(keys)), 'one row per (template, command, db, user, client)')
    # Commands without text stay apart from the statements, as "other".
    texts = collections.defaultdict(set)
    for row in rows:
        texts[templates.get(row['template_id'], '')].add(row['command'])
    bad = {t: c for t, c in texts.items() if t.startswith('<') and t != '<execute>' and
           c != {'other'}}
    mp.check(texts.get('<stmt_close>') == {'other'} and texts.get('<quit>') == {'other'} and
             not bad, 'stmt_close, quit and the like are counted as "other"',
             f'{dict(texts)}')
    return rows


def main():
    mp.need_root('live sysbench (namespace, BPF)')
    with mp.Netns('cmd') as ns:
        db = mp.MariaDB(port=PORT, netns=ns)
        try:
            reports, server, tx, err = run_workload(ns, db)
        finally:
            db.stop()
    templates = {}
    for r in reports:
        templates.update(r['templates'])
    rows = check_rows(reports, templates)
    total = collections.Counter()
    per = collections.defaultdict(collections.Counter)
    for row in rows:
        total[row['command']] += row['count']
        st = statement_of(templates.get(row['template_id'], ''))
        if st:
            per[st][row['command']] += row['count']
    mp.diag(f'server {server}; agent by command {dict(total)}')
    cap = mp.agent_counters(err, 'capture')
    dec = mp.agent_counters(err, 'decode')
    mp.check(cap.get('dropped') == 0 and dec.get('gaps') == 0 and
             dec.get('decode_errors') == 0, 'zero ring-buffer drops, gaps and decode errors',
             f'{cap} {dec}')
    mp.check(server['Com_stmt_execute'] > 1000 and
             total['execute'] == server['Com_stmt_execute'],
             f'execute rows: {total["execute"]} == server Com_stmt_execute '
             f'{server["Com_stmt_execute"]}')
    mp.check(total['prepare'] == server['Com_stmt_prepare'] > 0,
             f'prepare rows: {total["prepare"]} == server Com_stmt_prepare '
             f'{server["Com_stmt_prepare"]}')
    mp.check(total['query'] == 0, 'no text queries (everything is prepared)', str(total))
    mp.check(set(per) == set(PER_TX), 'every oltp_read_only statement has rows',
             f'{sorted(per)}')
    for st, n in sorted(PER_TX.items()):
        c = per.get(st, {})
        mp.check(c.get('execute') == n * tx and c.get('prepare') == THREADS and
                 set(c) == {'execute', 'prepare'},
                 f'{st}: execute rows count {n} x {tx} transactions, prepare rows {THREADS}',
                 str(dict(c)))
    mp.done()


if __name__ == '__main__':
    main()
