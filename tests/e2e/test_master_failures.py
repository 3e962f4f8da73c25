#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The master when parts fail: a slave that is down when it is joined is collected once it
starts; a slave SIGKILLed for 10 s shows down within 3 s, is marked missing while the master
keeps emitting on time, and is picked up again after its restart without any call; the master
SIGKILLed under load and restarted resumes every slave after what it had emitted (its state
file). Over the whole run every period of every slave is merged exactly once: the master's rows
per period equal the sum of the slaves' (both runs of the killed one), and the slaves that were
never killed count exactly what their servers counted, in the master's rows too."""
import collections
import json
import os
import signal
import time

import fleet
import mp

PORT = fleet.HTTP
NAMES = ('Com_stmt_execute', 'Com_stmt_prepare')


def node_state(fl, addr):
    st, nodes = fleet.listnodes(fl, PORT)
    if st != 200:
        return None
    return next((n for n in nodes if n['addr'] == addr), None)


def connected(fl, slaves):
    return all((node_state(fl, s.addr) or {}).get('state') == 'connected' for s in slaves)


def state_seq(path):
    """The master seq its state file records as emitted."""
    try:
        with open(path) as f:
            for line in f:
                if line.startswith('seq '):
                    return int(line.split()[1])
    except FileNotFoundError:
        pass
    return 0


def main():
    mp.need_root('master failures (namespaces, veths, BPF)')
    fl = fleet.Fleet(3, period_ms=1000)
    s0, s1, s2 = fl.slaves
    fl.prepare()
    before = {s.addr: s.status(NAMES) for s in fl.slaves}
    s0.start()
    s1.start()
    state = os.path.join(fl.tmp, 'master.state')
    m = fl.master(PORT, slaves=[s0.addr, s1.addr], state=state)
    st, body = fl.master_get(PORT, f'/cluster/join?addr={s2.addr}')
    mp.check(st == 200, 'a slave whose agent is not running can be joined', f'{st} {body}')
    n = node_state(fl, s2.addr)
    mp.check(n and n['state'] in ('connecting', 'down'), 'listnodes: it is not connected',
             str(n))
    s2.start()
    mp.poll(lambda: connected(fl, fl.slaves), timeout=20,
            what='the master collects the slave that was down at join time')
    mp.ok('a slave down at join time is collected once it starts')

    # --- a slave killed for 10 s under load
    load = fl.sysbench_start(24, threads=1)
    mp.poll(lambda: len(m.json_lines()) >= 3, timeout=20, what='the master emits')
    killed, killed_ms = time.monotonic(), time.time() * 1000
    down_from = len(m.lines)
    s1.agent.stop(signal.SIGKILL)
    mp.poll(lambda: (node_state(fl, s1.addr) or {}).get('state') not in (None, 'connected'),
            timeout=10, what='listnodes shows the killed slave down')
    # When the master knew: its log line (listnodes reads the same state).
    said = [t for t, l in zip(m.err_times, m.err) if f'slave {s1.addr} down' in l]
    noticed = said[0] - killed if said else 99
    mp.check(noticed <= 3, f'the master knows the killed slave is down within 3 s '
             f'({noticed:.2f} s), and listnodes says so')
    mp.poll(lambda: time.monotonic() - killed >= 10, timeout=15, every=0.2,
            what='10 s without the slave')
    down_to, back_ms = len(m.lines), time.time() * 1000
    s1.start()
    mp.poll(lambda: connected(fl, fl.slaves), timeout=20,
            what='the restarted slave is collected again')
    mp.ok('the restarted slave is picked up again without any call')
    # The periods that lie wholly between the kill and the restart (judged by the reports' own
    # periods, not by when lines arrived: a missing slave delays its periods by merge_wait_ms).
    mp.poll(lambda: any(r['period_end_ms'] > back_ms for r in m.json_lines()), timeout=10,
            what='the master emitted a period past the restart')
    during = [r for r in m.json_lines()
              if r['period_start_ms'] >= killed_ms and r['period_end_ms'] <= back_ms]
    marked = [r['nodes'][s1.addr]['status'] for r in during]
    others = [r['nodes'][s.addr]['status'] for r in during for s in (s0, s2)]
    mp.check(len(during) >= 8 and marked and all(x == 'missing' for x in marked) and
             all(x == 'ok' for x in others),
             f'while it is down each merged report ({len(during)} periods) marks it missing '
             'and the others ok',
             f'{len(during)} reports, {marked}, others {collections.Counter(others)}')
    times = m.times[down_from:down_to]
    gaps = [b - a for a, b in zip(times, times[1:])]
    mp.check(gaps and max(gaps) < 1.5, 'the master keeps emitting on time meanwhile '
             f'(largest gap {max(gaps or [0]):.2f} s on a 1 s period)')

    # --- the master killed under load, between two emissions
    fl.sysbench_wait(load, 24)
    load = fl.sysbench_start(16, threads=1)
    n = len(m.json_lines())
    mp.poll(lambda: len(m.json_lines()) >= n + 3, timeout=20, what='more reports')
    # Kill between two emissions: when the state file records exactly the last report stdout
    # printed (the saver thread and stdout's writer both follow an emission).
    mp.poll(lambda: state_seq(state) == m.json_lines()[-1]['seq'], timeout=5,
            what='the state file records the last printed report')
    m.stop(signal.SIGKILL)
    last = state_seq(state)
    first_run = m.json_lines()
    # The master stays away for 3 periods: the slaves keep what it misses.
    n0 = [len(s.agent.json_lines()) for s in fl.slaves]
    mp.poll(lambda: all(len(s.agent.json_lines()) >= n + 3 for s, n in zip(fl.slaves, n0)),
            timeout=10, what='3 periods without the master')
    m2 = fl.master(PORT, state=state)
    mp.poll(lambda: connected(fl, fl.slaves), timeout=20,
            what='the restarted master reconnects to every slave from its state file')
    mp.ok('the restarted master knows every slave from its state file')
    fl.sysbench_wait(load, 16)
    after = {s.addr: s.status(NAMES) for s in fl.slaves}

    rcs = [s.agent.stop() for s in fl.slaves]
    slave_reports = [s.reports() for s in fl.slaves]
    last_seq = {s.addr: s.agent.json_lines()[-1]['seq'] for s in fl.slaves}
    mp.poll(lambda: fleet.merged_through(m2, last_seq), timeout=20,
            what='the master emitted the slaves\' last reports')
    rcs.append(m2.stop())
    mp.check(rcs == [0] * 4, 'slaves and the restarted master exit 0', str(rcs))

    second_run = m2.json_lines()
    mp.check(second_run and second_run[0]['seq'] == last + 1,
             'the restarted master continues its seq from the state file',
             f'{last} then {second_run[0]["seq"] if second_run else None}')
    reps = first_run + second_run
    busy, bad = fleet.differing_periods(reps, slave_reports, fl.period_ms)
    mp.check(len(busy) >= 30 and not bad,
             f'every period\'s rows equal the sum of the slaves\' rows ({len(busy)} periods '
             'with rows, across both master runs and both runs of the killed slave)',
             f'periods that differ: {bad[:5]}')
    for s in (s0, s2):
        server = {n: after[s.addr][n] - before[s.addr][n] for n in NAMES}
        t = fleet.totals(reps, s.dbname)
        mp.check(server['Com_stmt_execute'] > 1000 and
                 t['execute'] == server['Com_stmt_execute'] and
                 t['prepare'] == server['Com_stmt_prepare'],
                 f'slave {s.k}: the master\'s execute/prepare {t["execute"]}/{t["prepare"]} == '
                 f'its server\'s {server["Com_stmt_execute"]}/{server["Com_stmt_prepare"]}')
    t = fleet.totals(reps, s1.dbname)
    own = fleet.totals(slave_reports[1], s1.dbname)
    mp.check(t == own and own['execute'] > 0,
             f'the killed slave: the master\'s rows == its two runs\' reports ({dict(own)})')
    mp.done()


if __name__ == '__main__':
    main()
