#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The master merges exactly: three slaves, each in its own namespace with its own MariaDB and
sysbench load, and two masters in a fourth namespace joined to them by veths — one given the
slaves in cluster.slaves, one told through /cluster/join. For every period each master's rows
equal the sum of the slaves' rows of that period (counts, errors, rows, latency histogram
buckets and sums), and over the run the masters' execute / prepare / query totals equal the sum
of the three servers' own counters."""
import collections

import fleet
import mp

SECONDS = 60
SELECTS = 300
NAMES = ('Com_stmt_execute', 'Com_stmt_prepare', 'Com_select', 'Com_set_option')
M1, M2 = fleet.HTTP, fleet.HTTP + 1


def all_connected(fl, port, n):
    st, nodes = fleet.listnodes(fl, port)
    return st == 200 and sum(1 for x in nodes if x['role'] == 'slave' and
                             x['state'] == 'connected') == n


def compare_periods(name, master_reports, slave_reports, period_ms):
    busy, bad = fleet.differing_periods(master_reports, slave_reports, period_ms)
    mp.check(len(busy) >= SECONDS - 2 and not bad,
             f'{name}: every period\'s rows equal the sum of the slaves\' rows of that period '
             f'({len(busy)} periods with rows)',
             f'periods that differ: {bad[:5]}')


def main():
    mp.need_root('master and slaves (namespaces, veths, BPF)')
    fl = fleet.Fleet(3, period_ms=1000)
    fl.prepare()  # before the agents: the table load is not counted
    for s in fl.slaves:
        s.start()
    before = [s.status(NAMES) for s in fl.slaves]
    m1 = fl.master(M1, slaves=[s.addr for s in fl.slaves])
    m2 = fl.master(M2)
    joins = [fl.master_get(M2, f'/cluster/join?addr={s.addr}') for s in fl.slaves]
    mp.check(all(st == 200 for st, _ in joins), '/cluster/join answers 200 for each slave',
             str(joins))
    mp.poll(lambda: all_connected(fl, M1, 3) and all_connected(fl, M2, 3), timeout=20,
            what='both masters connected to the three slaves')
    mp.ok('both masters reach the three slaves (cluster.slaves and /cluster/join)')

    sel0 = [s.status(NAMES) for s in fl.slaves]
    for s in fl.slaves:
        mp.run_selects(s.ns, '127.0.0.1', fleet.DB_PORT, SELECTS)
    sel1 = [s.status(NAMES) for s in fl.slaves]
    fl.sysbench(SECONDS)
    after = [s.status(NAMES) for s in fl.slaves]

    # Stop the slaves (each reports its partial last period), then wait until both masters
    # emitted what they sent, then stop the masters.
    rcs = [s.agent.stop() for s in fl.slaves]
    slave_reports = [s.reports() for s in fl.slaves]
    last = {s.addr: r[-1]['seq'] for s, r in zip(fl.slaves, slave_reports)}
    first_stop = min(r[-1]['period_end_ms'] for r in slave_reports)
    mp.poll(lambda: fleet.merged_through(m1, last) and fleet.merged_through(m2, last), timeout=20,
            what='both masters emitted the slaves\' last reports')
    st, metrics = fl.master_get(M1, '/metrics')
    rcs += [m1.stop(), m2.stop()]
    mp.check(rcs == [0] * 5, 'slaves and masters exit 0', str(rcs))

    server = collections.Counter()
    for b, a in zip(before, after):
        for n in NAMES:
            server[n] += a[n] - b[n]
    selects = sum(b['Com_select'] - a['Com_select'] for a, b in zip(sel0, sel1))
    for name, m in (('cluster.slaves master', m1), ('/cluster/join master', m2)):
        reps = m.json_lines()
        mp.check(reps and all(r['role'] == 'master' and r['version'] == 2 for r in reps),
                 f'{name}: merged reports are version 2 from a master')
        seqs = [r['seq'] for r in reps]
        mp.check(seqs == list(range(1, len(seqs) + 1)), f'{name}: seq 1, 2, 3, ...')
        compare_periods(name, reps, slave_reports, fl.period_ms)
        t = fleet.totals(reps)
        mp.diag(f'{name}: {dict(t)}; servers {dict(server)}, selects {selects}')
        mp.check(server['Com_stmt_execute'] > 1000 and t['execute'] == server['Com_stmt_execute'],
                 f'{name}: execute {t["execute"]} == the servers\' Com_stmt_execute '
                 f'{server["Com_stmt_execute"]}')
        mp.check(t['prepare'] == server['Com_stmt_prepare'] > 0,
                 f'{name}: prepare {t["prepare"]} == the servers\' Com_stmt_prepare '
                 f'{server["Com_stmt_prepare"]}')
        mp.check(mp.template_count(reps, 'SELECT ?') == selects == 3 * SELECTS,
                 f'{name}: SELECT ? {mp.template_count(reps, "SELECT ?")} == the servers\' '
                 f'Com_select over the text selects {selects}')
        # The rest of COM_QUERY is each client's SET autocommit on connect.
        text = selects + server['Com_set_option']
        mp.check(t['query'] == text,
                 f'{name}: query {t["query"]} == the servers\' text selects + Com_set_option '
                 f'{text}')
        # Slaves stop one after the other: from the first stop on, the stopped one is missing.
        busy_missing = [(r['seq'], r['period_end_ms'], first_stop) for r in reps
                        if r['stats'] and r['period_end_ms'] <= first_stop and
                        any(n['status'] == 'missing' for n in r['nodes'].values())]
        mp.check(not busy_missing, f'{name}: no slave missing while all were up',
                 str(busy_missing[:5]))
    mp.check(st == 200 and 'mysqlprobe_master_slave_reports_total{outcome="merged"}' in metrics
             and 'mysqlprobe_master_reports_refused_total 0' in metrics,
             '/metrics: slave reports by outcome, none refused')
    mp.check(fleet.TOKEN not in metrics and all(fleet.TOKEN not in '\n'.join(a.err)
                                                for a in [m1, m2] + [s.agent for s in fl.slaves]),
             'the cluster token is in no log and not in /metrics')
    mp.done()


if __name__ == '__main__':
    main()
