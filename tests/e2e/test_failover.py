#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Gossip failover without loss: three slaves (each in its own namespace with its own MariaDB and
sysbench load) and two candidate masters (ranks 0 and 1) in a fourth namespace, all of one
cluster.group, with a /collector consumer on each candidate. Under load the leader is SIGKILLed:
the standby emits merged reports within 5 s of the kill, every period of the run reaches the
consumers exactly once (non-late reports, by period_start_ms), the new leader's reports carry a
higher term, the old leader restarted stands by, and the totals equal the three servers' own
counters. Then the new leader is SIGSTOPped for 5 s and continued: the other takes over within
5 s, the stopped one has stepped down, no report of its term reaches a consumer after the next
leader's first, and still every period comes once."""
import collections
import os
import signal
import time

import fleet
import mp

NAMES = ('Com_stmt_execute', 'Com_stmt_prepare')
M = (fleet.HTTP, fleet.HTTP + 1)
GROUP = 'failover'
LOAD_S = 48


def master_addr(port):
    # The master namespace's end of slave 0's veth: slaves reach it through their default
    # route (the master namespace forwards), the masters locally.
    return f'10.232.0.1:{port}'


def gossip_args(fl, addr, seeds, rank=0):
    return ['-v', '--http.bind', '0.0.0.0', '--cluster.gossip', '--cluster.group', GROUP, '--cluster.advertise', addr,
            '--cluster.seeds', ','.join(seeds), '--cluster.rank', str(rank),
            '--cluster.vote_file', os.path.join(fl.tmp, f'vote-{addr.replace(":", "-")}')]


def listnodes(fl, port):
    st, nodes = fleet.listnodes(fl, port)
    return nodes if st == 200 else None


def leader_port(fl, ports):
    """The port of the candidate that says it leads, when every node asked agrees."""
    views = [listnodes(fl, p) for p in ports]
    if not all(views):
        return None
    lead = [p for p, v in zip(ports, views) if v['self']['lease'] == 'leader']
    leaders = {v['self']['leader'] for v in views}
    return lead[0] if len(lead) == 1 and leaders == {master_addr(lead[0])} else None


def reports_of(consumers):
    """Every report the consumers received: (arrival, report)."""
    return sorted((t, r) for c in consumers for t, r in c.reports)


def period_counts(reps):
    return collections.Counter(r['period_start_ms'] for r in reps if not r.get('late'))


def check_once(reps, period_ms, what):
    """Every period from the first to the last appears exactly once (non-late reports)."""
    n = period_counts(reps)
    first, last = min(n), max(n)
    bad = {p: n[p] for p in range(first, last + period_ms, period_ms) if n[p] != 1}
    mp.check(not bad, f'{what}: each of the {(last - first) // period_ms + 1} periods of the '
             f'run reached the consumers exactly once',
             f'period_start_ms -> times seen: {dict(list(sorted(bad.items()))[:8])}')


def show_logs(named_agents, since):
    for name, a in named_agents:
        mp.diag('\n'.join(f'{name} {t - since:+.2f} {l}' for t, l in zip(a.err_times, a.err)
                          if t > since - 3))


def first_report(consumer, term=None):
    """Arrival time of the consumer's first non-late report (of term), or None."""
    ts = [t for t, r in consumer.reports
          if not r.get('late') and (term is None or r.get('term', 0) == term)]
    return min(ts) if ts else None


def merged_through(consumers, last):
    seen = collections.defaultdict(int)
    for _, r in reports_of(consumers):
        for name, n in r.get('nodes', {}).items():
            seen[name] = max(seen[name], n.get('seq', 0))
    return all(seen[a] >= s for a, s in last.items())


def main():
    t0 = time.monotonic()
    mp.need_root('failover (namespaces, veths, BPF)')
    fl = fleet.Fleet(3, period_ms=1000)
    fl.master_ns.run(['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1'])
    for s in fl.slaves:
        s.ns.run(['ip', 'route', 'add', 'default', 'via', f'10.232.{s.k}.1'])
    fl.prepare()
    mp.diag(f'setup: {time.monotonic() - t0:.1f} s')
    seeds = [s.addr for s in fl.slaves] + [master_addr(p) for p in M]
    for s in fl.slaves:
        s.start(gossip_args(fl, s.addr, seeds))
    before = [s.status(NAMES) for s in fl.slaves]
    masters = {p: fl.master(p, slaves=[s.addr for s in fl.slaves],
                            extra=gossip_args(fl, master_addr(p), seeds, rank=i))
               for i, p in enumerate(M)}
    first = mp.wait_until(lambda: leader_port(fl, M), timeout=20, what='one leader')
    if not first:
        for p in M:
            mp.diag(f'port {p}: {listnodes(fl, p)}')
            mp.diag('\n'.join(masters[p].err[-15:]))
        mp.diag('slave 0: ' + '\n'.join(fl.slaves[0].agent.err[-15:]))
        mp.fail('the candidates agree on one leader')
        mp.done()
    standby = M[1] if first == M[0] else M[0]
    mp.ok(f'the candidates agree on one leader (port {first}, {time.monotonic() - t0:.1f} s)')
    mp.enter_netns(fl.master_ns)
    consumers = {p: mp.Collector(p, since=0, token=fleet.TOKEN) for p in M}
    procs = fl.sysbench_start(LOAD_S)
    consumers[first].wait(5, timeout=30)

    # SIGKILL the leader under load.
    mp.poll(lambda: len(consumers[first].reports) >= 10, timeout=30, what='10 reports')
    masters[first].proc.send_signal(signal.SIGKILL)
    killed = time.monotonic()
    masters[first].stop()
    mp.poll(lambda: any(not r.get('late') for _, r in consumers[standby].reports), timeout=15,
            what='the standby\'s first merged report')
    took = min(t for t, r in consumers[standby].reports if not r.get('late')) - killed
    mp.diag(f'takeover: first merged report of the standby {took:.2f} s after the kill')
    if not mp.check(took < 5.0, f'the standby emits merged reports within 5 s of the kill '
                    f'({took:.2f} s)'):
        show_logs([(f'master {standby}', masters[standby])] +
                  [(f'slave {s.k}', s.agent) for s in fl.slaves], killed)
    terms_old = {r.get('term', 0) for _, r in consumers[first].reports}
    terms_new = {r.get('term', 0) for _, r in consumers[standby].reports}
    mp.check(len(terms_old) == 1 and len(terms_new) == 1 and min(terms_new) > max(terms_old) > 0,
             f'every report carries its leader\'s term (old {terms_old}, new {terms_new})')

    # The old leader comes back: it stands by and the survivor keeps leading.
    masters[first] = fl.master(first, slaves=[s.addr for s in fl.slaves],
                               extra=gossip_args(fl, master_addr(first), seeds,
                                                 rank=M.index(first)))
    lead = mp.wait_until(lambda: leader_port(fl, M), timeout=10, what='one leader')
    mp.check(lead == standby, f'the restarted old leader stands by (leader: port {lead})')
    back = mp.Collector(first, since=0, token=fleet.TOKEN)
    everyone = list(consumers.values()) + [back]

    # SIGSTOP the leader for 5 s: the other takes over; continued, the stopped one has
    # stepped down and nothing of its term reaches a consumer after the new leader's first.
    term_stopped = max(terms_new)
    masters[standby].proc.send_signal(signal.SIGSTOP)
    stopped = time.monotonic()
    mp.wait_until(lambda: first_report(back), timeout=15, what='the other master emits')
    took = (first_report(back) or stopped + 99) - stopped
    mp.diag(f'SIGSTOP: first merged report of the other master {took:.2f} s after the stop')
    mp.poll(lambda: time.monotonic() >= stopped + 5, timeout=10, what='5 s stopped')
    masters[standby].proc.send_signal(signal.SIGCONT)
    contd = time.monotonic()
    mp.check(took < 5.0, f'a stopped leader is replaced within 5 s ({took:.2f} s)')
    if took >= 5.0:
        show_logs([(f'master {first}', masters[first])] +
                  [(f'slave {s.k}', s.agent) for s in fl.slaves], stopped)
    show_logs([(f'master {p}', masters[p]) for p in M], stopped)
    down = mp.wait_until(lambda: (listnodes(fl, standby) or {}).get('self', {}).get('lease')
                         not in (None, 'leader'), timeout=10, what='the stopped one steps down')
    mp.check(down, 'the continued old leader has stepped down',
             str(listnodes(fl, standby)))
    new_first = first_report(back)
    stale = [(round(t - contd, 2), r['period_start_ms']) for c in everyone
             for t, r in c.reports if r.get('term', 0) == term_stopped and new_first and
             t > new_first]
    mp.check(new_first and not stale, f'no report of the stopped leader\'s term '
             f'{term_stopped} reaches a consumer after the new leader\'s first', str(stale[:5]))

    fl.sysbench_wait(procs, LOAD_S)
    after = [s.status(NAMES) for s in fl.slaves]
    rcs = [s.agent.stop() for s in fl.slaves]
    slave_reports = [s.reports() for s in fl.slaves]
    last = {s.addr: r[-1]['seq'] for s, r in zip(fl.slaves, slave_reports)}
    mp.poll(lambda: merged_through(everyone, last), timeout=20,
            what='the leader emitted the slaves\' last reports')
    reps = [r for _, r in reports_of(everyone)]
    rcs += [masters[p].stop() for p in M]
    mp.check(rcs == [0] * 5, 'slaves and masters exit 0', str(rcs))
    check_once(reps, fl.period_ms, 'SIGKILL, then SIGSTOP')
    late = [(r['period_start_ms'], r.get('term', 0), sorted(r['nodes'].items()))
            for r in reps if r.get('late')]
    mp.diag(f'{len(reps)} reports, {len(late)} late: {late[:6]}')

    server = collections.Counter()
    for b, a in zip(before, after):
        for n in NAMES:
            server[n] += a[n] - b[n]
    t = fleet.totals(reps)
    mp.diag(f'consumers: {dict(t)}; servers {dict(server)}')
    mp.check(server['Com_stmt_execute'] > 1000 and t['execute'] == server['Com_stmt_execute'],
             f'execute {t["execute"]} == the servers\' Com_stmt_execute '
             f'{server["Com_stmt_execute"]}')
    mp.check(t['prepare'] == server['Com_stmt_prepare'] > 0,
             f'prepare {t["prepare"]} == the servers\' Com_stmt_prepare '
             f'{server["Com_stmt_prepare"]}')
    for c in everyone:
        c.close()
    mp.done()


if __name__ == '__main__':
    main()
