#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The pusher against real masters: a slave with its own MariaDB and sysbench load pushes to
two masters (pusher.path: /push, cluster.token on the link). The first is stopped: the second
receives within one period; the first is started again: the pusher returns to it; both are
down for a while: the reports wait in the spool and arrive once one is back. Over the run the
masters received every seq at least once and, after dedupe, each period exactly once, and the
totals equal the server's own counters. /push without or with a wrong token is 401; garbage
pushed with the token is counted and refused, never merged, never acknowledged."""
import collections
import os
import time

import fleet
import mp

M1, M2, M3 = fleet.HTTP + 1, fleet.HTTP + 2, fleet.HTTP + 3
SECONDS = 60
NAMES = ('Com_stmt_execute', 'Com_stmt_prepare', 'Com_select', 'Com_set_option')

# A pusher of garbage: each message with the token, then waits a little for any answer.
GARBAGE = r'''
import asyncio, json, sys, websockets
good = json.dumps({"version": 2, "node": "junk", "role": "slave", "seq": 1, "term": 0,
                   "period_start_ms": 0, "period_end_ms": 1000, "stats": [], "templates": {},
                   "slow": []})
BAD = [b"\x00\x01garbage", b"\xff\xff\xff\xff\x0f" + b"x" * 20, good[:len(good) // 2],
       '{"version": 2}', json.dumps({**json.loads(good), "version": 99})]
async def main():
    async with websockets.connect(sys.argv[1], extra_headers={
            "Authorization": "Bearer " + sys.argv[2]}) as ws:
        for m in BAD:
            await ws.send(m)
        try:
            print("answer:", await asyncio.wait_for(ws.recv(), 2), flush=True)
        except asyncio.TimeoutError:
            print("no answer", flush=True)
asyncio.run(main())
'''
NBAD = 5


def metric(fl, port, name, ns=None):
    st, text = fl.master_get(port, '/metrics', ns=ns)
    if st != 200:
        return None
    for line in text.splitlines():
        if line.startswith(name + ' '):
            return float(line.split()[1])
    return None


def pushed(fl, port):
    return metric(fl, port, 'mysqlprobe_master_pushed_reports_total') or 0


def master(fl, port, extra=()):
    return fl.master(port, extra=['--http.bind', '0.0.0.0'] + list(extra))


def node_state(fl, port, name):
    st, nodes = fleet.listnodes(fl, port)
    for n in nodes if st == 200 else ():
        if n['addr'] == name:
            return n['role'], n['state']
    return None


def upgrade(fl, port, token):
    hdrs = ['Connection: Upgrade', 'Upgrade: websocket', 'Sec-WebSocket-Version: 13',
            'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==']
    return fl.master_get(port, '/push', token=token, headers=hdrs)[0]


def node_seqs(reports, node):
    """The seqs of node's reports a master merged: its entry in each report's nodes."""
    out = collections.defaultdict(set)  # period end -> seqs
    for r in reports:
        n = r.get('nodes', {}).get(node)
        if n and n['status'] != 'missing':
            out[fleet.period_key(r, 1000)].add(n['seq'])
    return out


def main():
    mp.need_root('master and slave namespaces, veths, BPF')
    fl = fleet.Fleet(1, period_ms=1000)
    fl.prepare()
    s = fl.slaves[0]
    spool = mp.tempdir('mp-push-spool-')
    runs = [master(fl, M1), master(fl, M2)]
    m1, m2 = runs
    s.start(['--pusher.servers', f'10.232.0.1:{M1},10.232.0.1:{M2}', '--pusher.path', '/push',
             '--pusher.spool_dir', spool])
    before = s.status(NAMES)
    load = fl.sysbench_start(SECONDS)

    mp.poll(lambda: pushed(fl, M1) >= 4, timeout=20, what='the first master receives pushes')
    mp.check(pushed(fl, M2) == 0, 'the pusher sticks to the first server while it works')

    # The first goes away: the second takes over within one period.
    m1.stop()
    t0 = time.monotonic()
    mp.poll(lambda: pushed(fl, M2) > 0, timeout=10, what='the second master receives')
    took = time.monotonic() - t0
    # On failure: what the slave and the stopped master said around the stop, timed from it.
    said = [f'{who} {t - t0:+.2f} {l}' for who, a in (('slave', s.agent), ('m1', m1))
            for t, l in zip(a.err_times, a.err) if t >= t0 - 10]
    mp.check(took <= 1.0 + 1.0, f'the second master receives within one period ({took:.2f} s)',
             '\n'.join(said[-30:]))

    # The first comes back: the pusher returns to it (its link redials with backoff <= 10 s).
    mp.poll(lambda: pushed(fl, M2) >= 3, timeout=10, what='pushes to the second master')
    m1 = master(fl, M1)
    runs.append(m1)
    mp.poll(lambda: pushed(fl, M1) > 0, timeout=20, what='the pusher back on the first')
    n2 = pushed(fl, M2)
    mp.poll(lambda: pushed(fl, M1) >= 4, timeout=10, what='pushes to the first again')
    mp.check(pushed(fl, M2) <= n2 + 1, 'the pusher returned to the first server',
             f'second master {n2} -> {pushed(fl, M2)}')
    name = s.agent.json_lines()[0]['node']
    mp.check(node_state(fl, M1, name) == ('slave', 'pushing'),
             f'listnodes shows the pushing node {name}: role slave, state pushing',
             str(fleet.listnodes(fl, M1)))
    mp.poll(lambda: node_state(fl, M2, name) == ('slave', 'down'), timeout=10,
            what='the second master no longer waits for the node (its pushes stopped)')
    mp.ok('the second master marks the node down once its pushes stopped (link kept open)')

    # Both down for a while: the reports wait in the spool, then arrive.
    m1.stop()
    m2.stop()
    # More than the 16 held in memory: the older ones go to files in pusher.spool_dir.
    mp.poll(lambda: (metric(fl, fleet.HTTP, 'mysqlprobe_pusher_queue_reports', ns=s.ns) or 0)
            >= 20, timeout=40, what='reports waiting in the pusher queue')
    waited = metric(fl, fleet.HTTP, 'mysqlprobe_pusher_queue_reports', ns=s.ns)
    files = [f for f in os.listdir(spool) if f.endswith('.report.1')]
    mp.check(len(files) >= 4 and
             metric(fl, fleet.HTTP, 'mysqlprobe_pusher_spool_bytes', ns=s.ns) > 0,
             f'the reports beyond memory wait in pusher.spool_dir ({len(files)} files)')
    m1 = master(fl, M1)
    runs.append(m1)
    mp.poll(lambda: metric(fl, fleet.HTTP, 'mysqlprobe_pusher_queue_reports', ns=s.ns) == 0,
            timeout=30, what='the waiting reports delivered')
    mp.check(not [f for f in os.listdir(spool) if not f.startswith('.')],
             'the spool is empty once they were delivered', str(os.listdir(spool)[:5]))
    mp.ok(f'{int(waited)} reports held while no master was up arrived once one was back')

    # /push refuses what is not a node of the cluster, and garbage from one that is.
    mp.check(upgrade(fl, M1, None) == 401, '/push without cluster.token: 401')
    mp.check(upgrade(fl, M1, 'wrong-token') == 401, '/push with a wrong cluster.token: 401')
    st = fl.master_get(fleet.HTTP, '/push', token=fleet.TOKEN, ns=s.ns, headers=[
        'Connection: Upgrade', 'Upgrade: websocket', 'Sec-WebSocket-Version: 13',
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=='])[0]
    mp.check(st == 404, '/push on a slave (it takes no pushes): 404', str(st))
    refused0 = metric(fl, M1, 'mysqlprobe_master_reports_refused_total')
    r = fl.master_ns.run(['/usr/bin/python3', '-c', GARBAGE, f'ws://127.0.0.1:{M1}/push',
                          fleet.TOKEN], check=False)
    refused = metric(fl, M1, 'mysqlprobe_master_reports_refused_total') - refused0
    mp.check(refused == NBAD and 'no answer' in r.stdout,
             f'{NBAD} garbage messages pushed: each counted and refused, none acknowledged',
             f'refused {refused}; {r.stdout} {r.stderr[-300:]}')

    # A master pushes too (a chain): the receiver lists it and merges its reports.
    m3 = master(fl, M3, ['--pusher.servers', f'127.0.0.1:{M1}', '--pusher.path', '/push'])
    mp.poll(lambda: m3.json_lines(), timeout=10, what='a report of the pushing master')
    name3 = m3.json_lines()[0]['node']
    mp.poll(lambda: node_state(fl, M1, name3) == ('slave', 'pushing'), timeout=10,
            what='the pushing master listed')
    rc3 = m3.stop()
    mp.poll(lambda: node_state(fl, M1, name3) == ('slave', 'down'), timeout=10,
            what='the pushing master down once it stopped')
    mp.check(rc3 == 0 and not any('not delivered' in l for l in m3.err),
             'a master pushes its reports to another master (listed pushing, then down), '
             'and delivered all before exit', f'rc {rc3}; ' + ' | '.join(m3.err[-4:]))

    fl.sysbench_wait(load, SECONDS)
    after = s.status(NAMES)
    rc = s.agent.stop()
    mp.check(rc == 0, 'the slave exits 0', str(rc))
    srep = s.reports()
    node, last = srep[-1]['node'], srep[-1]['seq']
    mp.poll(lambda: fleet.merged_through(m1, {node: last}), timeout=20,
            what='the slave\'s final report merged')
    mp.check(not any('not delivered' in l for l in s.agent.err),
             'the slave delivered everything before exit', '\n'.join(s.agent.err[-5:]))
    rcs = [m1.stop()]
    mp.check(rcs == [0], 'the master exits 0', str(rcs))

    # Every seq at least once over the masters; each period once after dedupe.
    got = [node_seqs(m.json_lines(), node) for m in runs]
    union = set().union(*(x for g in got for x in g.values()))
    seqs = {r['seq'] for r in srep}
    mp.check(seqs == set(range(1, last + 1)) and seqs <= union,
             f'the masters received every seq 1..{last} at least once',
             f'missing {sorted(seqs - union)[:10]}')
    want = fleet.rows_by_period(srep, fl.period_ms)
    merged = {}
    dups = 0
    for m, g in zip(runs, got):
        rows = fleet.rows_by_period(m.json_lines(), fl.period_ms)
        for p in g:
            if p in merged:
                dups += 1
                continue
            merged[p] = rows.get(p, {})
    mp.diag(f'{dups} period(s) received by two masters (at-least-once), counted once')
    bad = sorted(p for p in want if want[p] and merged.get(p) != want[p])
    mp.check(not bad, 'after dedupe each period\'s merged rows equal the slave\'s rows',
             f'periods that differ: {bad[:5]}')
    t = collections.Counter()
    for rows in merged.values():
        for k, v in rows.items():
            t[k[1]] += v[0]
    server = {n: after[n] - before[n] for n in NAMES}
    mp.diag(f'merged {dict(t)}; server {server}')
    mp.check(server['Com_stmt_execute'] > 1000 and t['execute'] == server['Com_stmt_execute'],
             f'execute {t["execute"]} == the server\'s Com_stmt_execute '
             f'{server["Com_stmt_execute"]}')
    mp.check(t['prepare'] == server['Com_stmt_prepare'],
             f'prepare {t["prepare"]} == the server\'s Com_stmt_prepare '
             f'{server["Com_stmt_prepare"]}')
    mp.check(all(fleet.TOKEN not in '\n'.join(a.err) for a in runs + [s.agent]),
             'the cluster token is in no log')

    # No server reachable and no spool_dir: at exit, the last lines say what was not delivered.
    s.start(['--pusher.servers', '10.232.0.1:1', '--pusher.path', '/push'])
    mp.poll(lambda: len(s.agent.json_lines()) >= 3, timeout=20, what='three reports')
    rc = s.agent.stop()
    n = len(s.agent.json_lines())
    said = [l for l in s.agent.err if 'not delivered' in l]
    mp.check(rc == 0 and said == [f'pusher: {n} report(s) not delivered'] and
             s.agent.err.index(said[0]) >= len(s.agent.err) - 3,
             f'a dead target: the last log lines say the {n} reports not delivered',
             f'rc {rc}; ' + ' | '.join(s.agent.err[-6:]))
    mp.done()


if __name__ == '__main__':
    main()
