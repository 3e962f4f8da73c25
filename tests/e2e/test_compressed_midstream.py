#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Compressed connections joined mid-stream: `mariadb --compress` clients connect (and run a
statement) before the agent starts, then run marker statements once it is ready. The agent
never saw their handshake, so it must tell the compressed framing from the bytes. Every
marker is reported exactly once with its rows and the flag `compressed`, the connections are
counted in `compressed_midstream`, and the text queries in the window between two snapshots
of the server's own counters (read over the unix socket, never captured) equal Com_select.
Short statements travel uncompressed inside compressed packets, long ones as zlib streams:
both are in the markers. The same traffic replayed from a tcpdump capture cut to start after
the clients connected gives the same markers.
"""
import collections
import json
import os
import subprocess
import time

import mp

PORT = 3318
HTTP = 8667  # inside the test's own namespace
CLIENTS = 3
METRICS = r'''
import urllib.request
print(urllib.request.urlopen('http://127.0.0.1:8667/metrics', timeout=10).read().decode())
'''
MARKS = 8


def markers(i):
    """(sql, rows_sent) of client i: short ones (sent as is) and long ones (zlib)."""
    out = []
    for j in range(1, MARKS + 1):
        n = 100 * (i + 1) + j
        if j % 2:
            out.append((f'SELECT {n} /* m */', 1))
        else:
            pad = 'p' * 80
            out.append((f"SELECT seq, REPEAT('{pad}', 3) FROM seq_1_to_{j} /* m{n} */", j))
    return out


def main():
    mp.need_root('compressed clients joined mid-stream (namespace, BPF)')
    tmp = mp.tempdir('mp-cmid-')
    pcap = os.path.join(tmp, 'all.pcap')
    ns = mp.Netns('cmid')
    db = mp.MariaDB(port=PORT, netns=ns)

    def com_select():
        rows = db.sql("SHOW GLOBAL STATUS LIKE 'Com_select'", socket=True, db=None)
        return int(rows[0][1])
    dump = mp.Tcpdump(pcap, [PORT], netns=ns)
    clients = []
    for i in range(CLIENTS):
        p = mp.spawn(ns.cmd(['mariadb', '--compress', '-h', '127.0.0.1', '-P', str(PORT),
                             '-u', 'mp', '-pmp', '-N', '-B', '-n', '--comments', 'mp']),
                     what=f'mariadb --compress {i}', stdin=subprocess.PIPE,
                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        p.stdin.write(f'SELECT {i} AS before_agent;\n')
        p.stdin.flush()
        clients.append(p)
    # Each client has connected and answered its first statement before the agent starts.
    for p in clients:
        line = p.stdout.readline()
        if not line.strip().isdigit():
            raise RuntimeError(f'mariadb --compress: {line}')
    t_join = time.time()
    agent = mp.Agent(['-i', 'lo', '-p', str(PORT), '-o', 'events', '--serverport', str(HTTP)],
                     netns=ns)
    agent.wait_ready()
    t0, s0 = time.time(), com_select()
    want = {}
    for i, p in enumerate(clients):
        for sql, rows in markers(i):
            want[sql] = rows
            p.stdin.write(sql + ';\n')
        p.stdin.flush()
    mp.wait_until(lambda: len([l for l in agent.lines if '/* m' in l]) >= len(want),
                  timeout=20, what='marker events')
    s1, t1 = com_select(), time.time()
    for p in clients:
        p.stdin.close()
        p.wait(timeout=20)

    def metric(name):
        for line in mp.run_py(ns, METRICS).splitlines():
            if line.startswith(f'mysqlprobe_{name} '):
                return int(line.split()[1])
        return None
    mp.wait_until(lambda: metric('compressed_midstream_total') == CLIENTS, timeout=10, every=0.2,
                  what='/metrics compressed_midstream_total')
    mp.check(metric('compressed_connections_total') == CLIENTS and
             metric('framing_undecided_total') == 0,
             '/metrics: compressed connections found mid-stream, none undecided',
             f'{metric("compressed_connections_total")} {metric("framing_undecided_total")}')
    rc = agent.stop()
    dump_err = dump.stop()
    db.stop()
    ns.close()

    events = agent.json_lines()
    dec = mp.agent_counters(agent.err, 'decode')
    mp.diag(f'{len(events)} events; {dec}')
    mp.check(rc == 0, 'agent exits 0', f'rc={rc}')
    mp.check(dec.get('compressed_midstream') == CLIENTS and dec.get('compressed') == CLIENTS,
             f'all {CLIENTS} connections found compressed from their bytes',
             f'compressed={dec.get("compressed")} midstream={dec.get("compressed_midstream")}')
    seen = collections.Counter(e['sql'] for e in events if e['sql'] in want)
    ok = all(e['rows_sent'] == want[e['sql']] and e['status'] == 'ok' and
             'compressed' in e['flags'] for e in events if e['sql'] in want)
    mp.check(set(seen) == set(want) and set(seen.values()) == {1} and ok,
             f'every marker reported once with its rows and the flag compressed ({len(want)})',
             f'missing {sorted(set(want) - set(seen))[:4]} '
             f'dup {[s for s, c in seen.items() if c > 1][:4]} ok {ok}')
    win = [e for e in events if e['command'] == 'query' and t0 * 1e6 <= e['ts_us'] <= t1 * 1e6]
    mp.check(len(win) == s1 - s0 == len(want),
             'text queries in the window equal the server\'s Com_select delta',
             f'agent {len(win)} server {s1 - s0} markers {len(want)}')
    mp.check(dec.get('decode_errors', 0) == 0 and dec.get('framing_undecided', 0) == 0,
             'no decode error, no connection left undecided', str(dec))

    # Replay from after the clients connected: the same markers, found the same way.
    mp.check(mp.tcpdump_dropped(dump_err) == 0, 'tcpdump captured every packet',
             dump_err.strip()[-200:])
    lt, nano, recs = mp.read_pcap(pcap)
    unit = 1e9 if nano else 1e6
    first = next(i for i, r in enumerate(recs) if r[0] + r[1] / unit >= t_join)
    cut = os.path.join(tmp, 'cut.pcap')
    mp.write_pcap(cut, lt, nano, recs[first:])
    r = subprocess.run([mp.BIN, '-r', cut, '-p', str(PORT), '-o', 'events'], text=True,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    rev = [json.loads(l) for l in r.stdout.splitlines() if l.startswith('{')]
    rdec = mp.agent_counters(r.stderr, 'decode')
    rseen = collections.Counter(e['sql'] for e in rev if e['sql'] in want)
    mp.check(r.returncode == 0 and set(rseen) == set(want) and set(rseen.values()) == {1} and
             all(e['rows_sent'] == want[e['sql']] for e in rev if e['sql'] in want) and
             rdec.get('compressed_midstream') == CLIENTS,
             'a replay cut after the handshakes reports every marker once, compressed found',
             f'rc {r.returncode} missing {sorted(set(want) - set(rseen))[:4]} {rdec}')
    mp.done()


if __name__ == '__main__':
    main()
