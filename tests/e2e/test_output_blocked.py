#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Blocked outputs, end to end: the agent's stdout is a pipe nobody reads and one /collector
client never reads its socket. Neither delays the period clock, the capture, nor the client
that keeps up (every seq, on time, nothing lost); their losses are counted exactly, per output,
in /metrics and in the next reports. Real MariaDB and agent in a network namespace."""
import json
import re
import socket
import subprocess
import threading

import mp

PORT = 3319
HTTP = 8667
PERIOD_MS = 200
STDOUT_QUEUE = 16  # STDOUT_OUT_QUEUE in user/roles/stdout_out.h


def traffic(stop):
    """Many distinct templates per period (50 statements per query: the decoder splits up to
    64), so reports soon fill a pipe and socket buffers."""
    import pymysql
    from pymysql.constants import CLIENT
    c = pymysql.connect(host='127.0.0.1', port=PORT, user='mp', password='mp', database='mp',
                        autocommit=True, client_flag=CLIENT.MULTI_STATEMENTS)
    i = 0
    with c.cursor() as cur:
        while not stop.wait(0.01):
            cur.execute(';'.join(f'SELECT {i} AS column_alias_to_make_rows_long_{k}'
                                 for k in range(i % 8 * 50, i % 8 * 50 + 50)))
            while cur.nextset():
                pass
            i += 1
    c.close()


def stuck_client():
    """A /collector client that upgrades and then never reads (small receive buffer)."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(('127.0.0.1', HTTP))
    s.sendall(b'GET /collector?format=json HTTP/1.1\r\nHost: 127.0.0.1\r\n'
              b'Upgrade: websocket\r\nConnection: Upgrade\r\n'
              b'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n')
    return s


def metric(text, name, output):
    m = re.search(rf'^{name}{{output="{output}"}} (\d+)$', text, re.M)
    return int(m.group(1)) if m else None


def main():
    mp.need_root('blocked outputs (namespace, BPF)')
    with mp.Netns('blk') as ns:
        mp.enter_netns(ns)
        # Small socket buffers: the stuck client fills them in a few reports.
        ns.run(['sysctl', '-q', '-w', 'net.ipv4.tcp_wmem=4096 16384 65536'])
        ns.run(['sysctl', '-q', '-w', 'net.ipv4.tcp_rmem=4096 16384 65536'])
        db = mp.MariaDB(port=PORT)
        agent = None
        stop = threading.Event()
        fast = stuck = None
        try:
            db.sql('SELECT 1')
            # stdout is a pipe this test never reads: it fills after 64 KiB.
            agent = subprocess.Popen([mp.BIN, '-p', str(PORT), '-o', 'report',
                                      '--report_period_ms', str(PERIOD_MS),
                                      '--serverport', str(HTTP)],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            mp.poll(lambda: mp.http_up(f'http://127.0.0.1:{HTTP}/healthz')
                    if agent.poll() is None else mp.fail('agent exited') or True,
                    what='agent serving')
            # since=0: every report from the first, whenever this client connects.
            fast = mp.Collector(HTTP, json_format=True, since=0)
            stuck = stuck_client()
            gen = threading.Thread(target=traffic, args=(stop,), daemon=True)
            gen.start()
            if not mp.wait_until(lambda: len(fast.reports) >= 40, timeout=60):
                raise TimeoutError(f'40 reports: got {len(fast.reports)}, client closed '
                                   f'{fast.closed}, agent exit status {agent.poll()}')
            mp.poll(lambda: metric(mp.http_get(f'http://127.0.0.1:{HTTP}/metrics')[1],
                                   'mysqlprobe_output_reports_dropped_total', 'collector'),
                    timeout=30, what='the stuck client losing reports')
            n0 = len(fast.reports)
            mp.poll(lambda: len(fast.reports) >= n0 + 5, what='5 more reports')
            _, metrics = mp.http_get(f'http://127.0.0.1:{HTTP}/metrics')
            mp.poll(lambda: len(fast.reports) >= n0 + 7, what='the reports after /metrics')
            stop.set()
            gen.join(10)
        finally:
            stop.set()
            if fast:
                fast.close()
            if stuck:
                stuck.close()
            if agent:
                agent.terminate()
                try:
                    agent.wait(10)
                except subprocess.TimeoutExpired:
                    agent.kill()
                    agent.wait()
            db.stop()

    r = [x for _, x in fast.reports]
    s = [x['seq'] for x in r]
    mp.check(s == list(range(1, len(s) + 1)) and all('lost' not in x for x in r),
             'the client that keeps up gets every seq from 1, nothing lost', str(s[:10]))
    rows = [len(x['stats']) for x in r]
    mp.diag(f'{len(r)} reports, rows per report {min(rows)}..{max(rows)}')
    mp.check(sum(x['capture']['dropped'] for x in r) == 0, 'no capture drop')
    t = [a for a, _ in fast.reports[5:]]
    gaps = [b - a for a, b in zip(t, t[1:])]
    mean = sum(gaps) / len(gaps)
    mp.diag(f'arrival spacing: mean {mean * 1000:.0f} ms, max {max(gaps) * 1000:.0f} ms')
    mp.check(abs(mean * 1000 - PERIOD_MS) <= PERIOD_MS * 0.1,
             'reports keep the period (mean spacing within 10%)', f'{mean:.3f}')
    spans = {x['period_end_ms'] - x['period_start_ms'] for x in r[1:-1]}
    mp.check(spans == {PERIOD_MS}, 'every period spans report_period_ms', str(spans))

    took = metric(metrics, 'mysqlprobe_output_reports_total', 'stdout')
    dropped = metric(metrics, 'mysqlprobe_output_reports_dropped_total', 'stdout')
    mp.diag(f'stdout took {took} reports, lost {dropped}; collector lost '
            f'{metric(metrics, "mysqlprobe_output_reports_dropped_total", "collector")}')
    # At report N's close, reports 1..N-1 were published: stdout took `took`, holds 16, the
    # rest is lost, and each report carries what was lost since the previous one.
    exact = []
    for x in r:
        n = x['seq']
        want = max(0, (n - 1) - took - STDOUT_QUEUE)
        got = sum(y['outputs'].get('stdout', {}).get('dropped', 0) for y in r if y['seq'] <= n)
        if n > took + STDOUT_QUEUE + 3 and got != want:
            exact.append((n, got, want))
    mp.check(took is not None and dropped and not exact,
             'stdout stuck: N published, queue 16 -> exactly N - 1 - taken - 16 lost, '
             'in the reports', str(exact[:5]))
    col = sum(x['outputs'].get('collector', {}).get('dropped', 0) for x in r)
    mp.check(col > 0 and r[-1]['outputs']['collector']['readers'] == 2,
             'the stuck client\'s losses are in the reports (collector), it stays connected',
             json.dumps(r[-1]['outputs']))
    mp.done()


if __name__ == '__main__':
    main()
