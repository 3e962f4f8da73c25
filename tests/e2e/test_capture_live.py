#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Live capture against a real MariaDB, checked against tcpdump running alongside.

For tc, xdp and pcap modes, on a namespace's lo (where every packet passes
egress and ingress) and on a veth device (ingress and egress hooks both in
use), the multiset of (direction, seq, payload length) the agent reports must
equal tcpdump's, with zero ring-buffer drops. The captures made here also feed
the replay test in test_replay.py's style (see test_replay below).
"""
import collections
import os

import mp

PORT = 3310


def workload(db, netns, host):
    """A mix that makes small and GSO-sized segments, errors, and connection churn."""
    base = ['mariadb', '--no-defaults', '-h', host, '-P', str(PORT), '--protocol=tcp',
            '-ump', '-pmp', 'mp', '-N', '-B', '-e']
    stmts = [
        "CREATE TABLE IF NOT EXISTS t (id INT PRIMARY KEY AUTO_INCREMENT, v VARCHAR(200))",
        "INSERT INTO t (v) VALUES ('a'),('b'),('c')",
        "SELECT * FROM t; SELECT COUNT(*) FROM t",
        "SELECT REPEAT('x', 300000)",
        "SELECT * FROM no_such_table",
        "SELECT SLEEP(0.01), 1",
    ]
    for i in range(4):
        for q in stmts:
            r = mp.subprocess.run(mp.wrap(netns, base + [q]), stdout=mp.subprocess.DEVNULL,
                                  stderr=mp.subprocess.DEVNULL)
            if r.returncode not in (0, 1):
                raise RuntimeError(f'client failed: {q}')


def agent_segments(agent):
    out = []
    for j in agent.json_lines():
        if 'seq' in j:
            out.append((j['dir'], j['seq'], j['len']))
    return out


def capture_once(name, db, netns, client_ns, host, dev, mode, pcap_path):
    dump = mp.Tcpdump(pcap_path, [PORT], dev=dev, netns=netns)
    agent = mp.Agent(['-i', dev, '-p', str(PORT), '--mode', mode, '-o', 'segments'], netns=netns)
    agent.wait_ready()
    if mode != 'pcap' and f'mode {mode}' not in '\n'.join(agent.err):
        mp.fail(f'{name}: runs in {mode} mode', '\n'.join(agent.err[-5:]))
    workload(db, client_ns, host)
    # Both sides have seen everything once their multisets agree; poll for that.

    def agree():
        want = collections.Counter(mp.tcpdump_segments(pcap_path, [PORT]))
        return want and collections.Counter(agent_segments(agent)) == want
    mp.wait_until(agree, timeout=20, every=0.2, what='agent and tcpdump to agree')
    rc = agent.stop()
    dump.stop()
    got = collections.Counter(agent_segments(agent))
    want = collections.Counter(mp.tcpdump_segments(pcap_path, [PORT]))
    counters = [l for l in agent.err if 'capture:' in l]
    mp.check(rc == 0, f'{name}: agent exits 0 on SIGTERM', f'rc={rc} {agent.err[-5:]}')
    ok = mp.check(got == want and sum(want.values()) > 50,
                  f'{name}: segments equal tcpdump ({sum(want.values())} segments)',
                  f'only agent: {list((got - want).items())[:5]} '
                  f'only tcpdump: {list((want - got).items())[:5]}')
    if not ok:
        mp.diag('\n'.join(agent.err[-10:]))
    mp.check(counters and ' dropped=0' in counters[-1], f'{name}: zero ring-buffer drops',
             counters[-1] if counters else 'no counters line')
    big = [s for s in want if s[2] > 16384]
    mp.check(len(big) > 0, f'{name}: GSO-sized segments were part of the traffic')
    return ok


def main():
    mp.need_root('live capture')
    tmp = mp.tempdir('mp-cap-')
    # 1. A namespace's loopback: each packet passes egress and ingress.
    with mp.scope():
        ns = mp.Netns('cap')
        db = mp.MariaDB(port=PORT, netns=ns)
        for mode in ('tc', 'xdp', 'pcap'):
            with mp.case(f'lo/{mode}'):
                capture_once(f'lo/{mode}', db, ns, ns, '127.0.0.1', 'lo', mode,
                             os.path.join(tmp, f'lo-{mode}.pcap'))
    # 2. A veth between a server and a client namespace: ingress and egress hooks.
    with mp.scope():
        srv, cli = mp.Netns('srv'), mp.Netns('cli')
        mp.veth_pair(srv, cli)
        db = mp.MariaDB(port=PORT, netns=srv, bind='10.231.0.1')
        for mode in ('tc', 'xdp', 'pcap'):
            with mp.case(f'veth/{mode}'):
                capture_once(f'veth/{mode}', db, srv, cli, '10.231.0.1', 'mpa', mode,
                             os.path.join(tmp, f'veth-{mode}.pcap'))
    mp.done()


if __name__ == '__main__':
    main()
