#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""/collector clients that never read, against a real MariaDB with some 10,000 templates per
period (issue #12, items 3 and 8).

- Memory: waves of websocket clients connect and never read. The agent's peak RSS (VmHWM)
  grows by no more than twice http.queue_mb (+ a margin for lws and the allocator) over its
  peak with one reading client (before the fix: +242 MiB); clients over the bound are disconnected and counted in /metrics and
  /status; RSS comes back down once they are gone.
- A reading client meanwhile gets every report: consecutive seqs, nothing lost.
- /healthz answers within a deadline every time it is asked (rendering is off its thread).
- Both for the release build and, when it is built, the ASan+UBSan one (LeakSanitizer makes
  any leak a non-zero exit status); the RSS bounds only hold for the release build (ASan's
  shadow memory and quarantine), so they are checked there only.
"""
import json
import os
import re
import socket
import threading
import time

import mp

LABEL = ''
PORT = 3318
HTTP = 8669
PERIOD_MS = 3000
TEMPLATES = 10000
QUEUE_MB = 8
CLIENT_QUEUE_MB = 8
WAVES, PER_WAVE = 4, 25  # 100 clients that never read, connecting one wave per period
SLACK_MB = 24  # lws buffers, thread stacks, allocator slack beyond the queued reports
# The deadline was 1 s (missed 14 of 41 times); half again for scheduling on a busy
# shared machine. Rendering per client on that thread took seconds per wave of clients.
HEALTHZ_DEADLINE = 1.5

# 10,000 templates (an alias each) cycled: some 10,000 rows per 3 s period here, 25 statements per COM_QUERY.
WORKLOAD = r'''
import sys, pymysql
from pymysql.constants import CLIENT
n = int(sys.argv[2])
c = pymysql.connect(host='127.0.0.1', port=int(sys.argv[1]), user='mp', password='mp',
                    database='mp', client_flag=CLIENT.MULTI_STATEMENTS, autocommit=True)
cur = c.cursor()
batches = [';'.join('SELECT %d AS t%d' % (i, i) for i in range(b, min(b + 25, n)))
           for b in range(0, n, 25)]
while True:
    for q in batches:
        cur.execute(q)
        while cur.nextset():
            pass
'''


def status_kb(pid, key):
    with open(f'/proc/{pid}/status') as f:
        m = re.search(rf'^{key}:\s+(\d+) kB', f.read(), re.M)
    return int(m.group(1)) if m else 0


def metric(name):
    st, body = mp.http_get(f'http://127.0.0.1:{HTTP}/metrics')
    m = re.search(rf'^{re.escape(name)} (\d+)$', body, re.M)
    return int(m.group(1)) if st == 200 and m else None


def silent_client():
    """Upgrades to /collector, then never reads: a tiny receive buffer fills at once."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(10)
    s.connect(('127.0.0.1', HTTP))
    s.sendall(b'GET /collector HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n'
              b'Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n'
              b'Sec-WebSocket-Version: 13\r\n\r\n')
    head = b''
    while b'\r\n\r\n' not in head:
        chunk = s.recv(1)
        if not chunk:
            raise RuntimeError('upgrade refused')
        head += chunk
    if b' 101 ' not in head.split(b'\r\n')[0]:
        raise RuntimeError(head.decode(errors='replace'))
    return s


# A process of its own: in this one, the reading client's json.loads of a large report holds
# the GIL long enough to make a /healthz poller here look slow.
POLLER = r'''
import json, sys, time, urllib.request
url, deadline = sys.argv[1], float(sys.argv[2])
asked = misses = 0
worst = 0.0
while True:
    t0 = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            ok = r.status == 200
            r.read()
    except OSError:
        ok = False
    dt = time.monotonic() - t0
    asked += 1
    worst = max(worst, dt)
    misses += (not ok) or dt > deadline
    print(json.dumps({'asked': asked, 'misses': misses, 'worst': worst}), flush=True)
    time.sleep(0.1)
'''


class HealthzPoller:
    """Asks /healthz every 100 ms from another process; slower than the deadline is a miss."""

    def __init__(self, deadline):
        import subprocess
        self.deadline = deadline
        self.p = mp.spawn(['/usr/bin/python3', '-c', POLLER,
                           f'http://127.0.0.1:{HTTP}/healthz', str(deadline)],
                          what='healthz poller', stdout=subprocess.PIPE, text=True)
        self.last = {'asked': 0, 'misses': 0, 'worst': 0.0}
        self._t = threading.Thread(target=self._read, daemon=True)
        self._t.start()

    def _read(self):
        for line in self.p.stdout:
            self.last = json.loads(line)

    def stop(self):
        mp.stop_process(self.p)
        self._t.join(10)
        self.asked, self.misses, self.worst = (self.last['asked'], self.last['misses'],
                                               self.last['worst'])


def wait_periods(col, n):
    have = len(col.reports)
    # Generous: under ASan, filling 100 clients' socket buffers takes CPU from capture, whose
    # periods then close late and in a burst (they follow capture time, nothing is lost).
    col.wait(have + n, timeout=60 + 4 * n * PERIOD_MS / 1000)


def check_reader(col, first, release):
    got = [r for _, r in col.reports[first:]]
    seqs = [r['seq'] for r in got]
    gaps = [(a, b) for a, b in zip(seqs, seqs[1:]) if b != a + 1]
    lost = sum(r.get('lost', 0) for r in got)
    rows = sorted(len(r['stats']) for r in got)[len(got) // 2] if got else 0
    mp.diag(f'{LABEL}reader: {len(got)} reports, seqs {seqs[:1]}..{seqs[-1:]}, median rows {rows}')
    mp.check(len(got) >= WAVES + 2 and not gaps and lost == 0,
             LABEL + 'a reading client gets every report (consecutive seqs, nothing lost)',
             f'gaps {gaps[:5]}, lost {lost}, {len(got)} reports')
    # Rows per period follow how fast this machine runs the workload (ASan takes CPU from it).
    least = TEMPLATES // 5
    mp.check(rows >= least, LABEL + f'the reports are large (>= {least} rows)', str(rows))


def scenario(agent, release, queue_mb):
    pid = agent.proc.pid
    reader = mp.Collector(HTTP)
    # History full (cluster.buffer_mb) and every template known: the baseline peak.
    wait_periods(reader, 4)
    base_hwm = status_kb(pid, 'VmHWM')
    mp.diag(f'{LABEL}baseline: VmHWM {base_hwm // 1024} MiB, VmRSS {status_kb(pid, "VmRSS") // 1024} MiB')
    first = len(reader.reports)
    poller = HealthzPoller(HEALTHZ_DEADLINE if release else 2 * HEALTHZ_DEADLINE)
    silent = []
    try:
        for _ in range(WAVES):
            silent += [silent_client() for _ in range(PER_WAVE)]
            wait_periods(reader, 1)
        wait_periods(reader, 2)
        hwm = status_kb(pid, 'VmHWM')
        dropped = metric('mysqlprobe_server_clients_dropped_total')
        lagged = metric('mysqlprobe_output_reports_dropped_total{output="collector"}')
        st, body = mp.http_get(f'http://127.0.0.1:{HTTP}/status')
        server = json.loads(body).get('server', {}) if st == 200 else {}
    finally:
        poller.stop()
        for s in silent:
            s.close()
    mp.diag(f'{LABEL}with {len(silent)} silent clients: VmHWM {hwm // 1024} MiB '
            f'(+{(hwm - base_hwm) // 1024}), clients dropped {dropped}, reports lost by '
            f'lagging clients {lagged}, /healthz worst {poller.worst * 1000:.0f} ms of '
            f'{poller.asked}')
    if release:
        # Clients that are reading may hold up to twice the bound (user/net/server.c).
        allowed = 2 * queue_mb + SLACK_MB
        mp.check(hwm - base_hwm <= allowed * 1024,
                 LABEL + f'peak RSS grows by at most twice http.queue_mb ({queue_mb} MiB) + '
                 f'{SLACK_MB} MiB', f'+{(hwm - base_hwm) // 1024} MiB')
    mp.check(dropped is not None and dropped > 0,
             LABEL + 'clients over the bound are disconnected, counted in /metrics',
             f'dropped {dropped}')
    # queue_bytes may exceed the limit by the newest report (held by clients keeping up).
    mp.check(server.get('clients_dropped') == dropped and
             server.get('queue_limit_bytes') == queue_mb << 20 and
             isinstance(server.get('queue_bytes'), int),
             LABEL + '/status shows the bound, what the queues hold and the dropped clients',
             json.dumps(server))
    mp.check(poller.misses == 0 and poller.asked >= 20,
             LABEL + f'/healthz answers within {poller.deadline * 1000:.0f} ms every time',
             f'{poller.misses} of {poller.asked} missed, worst {poller.worst * 1000:.0f} ms')
    check_reader(reader, first, release)
    gone = mp.wait_until(lambda: metric('mysqlprobe_server_clients') == 1, timeout=10,
                         what='silent clients gone')
    mp.check(gone, LABEL + 'the closed clients are gone from the server')
    if release:
        wait_periods(reader, 2)
        rss = status_kb(pid, 'VmRSS')
        mp.check(rss <= base_hwm + SLACK_MB * 1024,
                 LABEL + 'memory comes back once the clients are gone',
                 f'VmRSS {rss // 1024} MiB, baseline peak {base_hwm // 1024} MiB')
    reader.close()


def run(binary, release):
    queue_mb = QUEUE_MB
    with mp.scope(), mp.Netns('colmem') as ns:
        mp.enter_netns(ns)
        mp.MariaDB(port=PORT)  # stopped when the scope ends
        load = mp.spawn(['/usr/bin/python3', '-c', WORKLOAD, str(PORT), str(TEMPLATES)],
                        what='workload')
        args = ['-p', str(PORT), '-o', 'none', '--report_period_ms', str(PERIOD_MS),
                '--serverport', str(HTTP), '--max_keys', str(2 * TEMPLATES),
                '--websocket.queue', '2']
        # MP_BIN may be a build from before the bounds (to see this test fail there).
        if 'http.queue_mb' in mp.sh([binary, '--help'], check=False).stdout:
            args += ['--http.queue_mb', str(queue_mb),
                     '--http.client_queue_mb', str(CLIENT_QUEUE_MB)]
        else:
            mp.diag(f'{LABEL}{binary} has no http.queue_mb: run without the bounds')
        agent = mp.Agent(args, binary=binary)
        try:
            agent.wait_ready(timeout=60)
            scenario(agent, release, queue_mb)
        except Exception as e:  # the other build still runs
            mp.fail(f'{LABEL}scenario raised', repr(e))
        finally:
            # Traffic first: the agent drains its source before it exits.
            mp.stop_process(load)
            rc = agent.stop()
        mp.check(rc == 0, LABEL + 'the agent exits 0 on SIGTERM (no leak under LSan)',
                 f'rc={rc} {agent.err[-5:]}')


def main():
    global LABEL
    mp.need_root('namespaces, BPF')
    san = os.path.join(os.path.dirname(mp.BIN), 'san', os.path.basename(mp.BIN))
    for label, binary, release in (('', mp.BIN, True), ('asan: ', san, False)):
        LABEL = label
        if not os.path.exists(binary):
            mp.skip(f'{label}non-reading clients', f'{binary} is not built (make SANITIZER=...)')
            continue
        run(binary, release)
    mp.done()


if __name__ == '__main__':
    main()
