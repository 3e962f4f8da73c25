# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Known traffic for the dashboard and `top` tests: three templates at different rates, one
slow (SLEEP), one failing with error 1146, run over one connection; and what the agent's own
reports say of them (the counts the views must show, and the load order)."""
import base64
import hashlib
import socket
import threading
import time

import mp

PORT = 3306  # inside the test's own namespace
HTTP = 8667  # likewise
PERIOD_MS = 1000
SLOW_N, FAST_N, FAIL_N = 4, 60, 20
SLOW_SQL = 'SELECT SLEEP(0.25)'
SQL = {'fast': 'SELECT id FROM t WHERE id = 3', 'fail': 'SELECT * FROM no_such_table',
       'slow': SLOW_SQL}


def start(ns):
    """MariaDB with table t and an agent (slow samples from 100 ms) in ns; returns both."""
    db = mp.MariaDB(port=PORT, netns=ns)
    db.sql('CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t VALUES '
           + ','.join(f'({i})' for i in range(10)))
    return db, agent(ns)


def agent(ns, extra=()):
    a = mp.Agent(['-p', str(PORT), '-o', 'report', '--report_period_ms', str(PERIOD_MS),
                  '--slowthresholdms', '100'] + list(extra), netns=ns)
    a.wait_ready()
    return a


def run_sql(sql):
    """One statement on a connection of its own."""
    import pymysql
    c = pymysql.connect(host='127.0.0.1', port=PORT, user='mp', password='mp', database='mp',
                        autocommit=True)
    try:
        c.cursor().execute(sql)
    finally:
        c.close()


def run_traffic():
    """The known statements, over one TCP connection (pymysql: one COM_QUERY each)."""
    import pymysql
    c = pymysql.connect(host='127.0.0.1', port=PORT, user='mp', password='mp', database='mp',
                        autocommit=True)
    try:
        cur = c.cursor()
        for i in range(FAST_N):
            cur.execute(f'SELECT id FROM t WHERE id = {i % 10}')
        for _ in range(FAIL_N):
            try:
                cur.execute('SELECT * FROM no_such_table')
            except pymysql.err.ProgrammingError:
                pass
        for _ in range(SLOW_N):
            cur.execute(SLOW_SQL)
    finally:
        c.close()


def template_ids():
    """Our statements' template ids, as `mysqlprobe template` computes them."""
    out = {}
    for name, sql in SQL.items():
        r = mp.sh([mp.BIN, 'template'], input=sql + '\n')
        out[name] = r.stdout.split('\t')[0]
    return out


def expected(reports, ids):
    """Per template of ours: id, count, errors and latency sum, from the agent's reports."""
    out = {}
    for name, tid in ids.items():
        rows = [s for r in reports for s in r['stats']
                if s['template_id'] == tid and s['command'] == 'query']
        out[name] = {'id': tid, 'count': sum(s['count'] for s in rows),
                     'errors': sum(s['errors'] for s in rows),
                     'sum': sum(s['latency_us']['sum'] for s in rows)}
    return out


def traffic_and_expect():
    """Runs the traffic while a /collector client listens; returns expected() once a report
    that ended after the traffic arrived, and a check that the counts are the known ones."""
    col = mp.Collector(HTTP, json_format=True, since=0)
    try:
        run_traffic()
        t_end = time.time() * 1000
        mp.poll(lambda: any(r['period_end_ms'] > t_end + 50 for _, r in col.reports),
                timeout=30, what='a report after the traffic')
        exp = expected([r for _, r in col.reports], template_ids())
    finally:
        col.close()
    mp.check(exp['fast']['count'] == FAST_N and exp['fail']['count'] == FAIL_N and
             exp['fail']['errors'] == FAIL_N and exp['slow']['count'] == SLOW_N,
             f'the agent reports the known counts (fast {FAST_N}, failing {FAIL_N}, '
             f'slow {SLOW_N})', str(exp))
    mp.diag('load order: ' + ', '.join(f'{k} {v["sum"]} us' for k, v in
                                        sorted(exp.items(), key=lambda kv: -kv[1]['sum'])))
    return exp


def load_order(exp):
    return [e['id'] for e in sorted(exp.values(), key=lambda e: -e['sum'])]


class BadPeer:
    """A websocket endpoint that answers the upgrade, sends one text message that is not a
    report and closes: what a broken or foreign endpoint looks like to the page."""
    GUID = b'258EAFA5-E914-47DA-95CA-C5AB0DC85B11'

    def __init__(self, payload):
        self.payload = payload.encode()
        self.sock = socket.socket()
        self.sock.bind(('127.0.0.1', 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.conns = 0
        mp.defer(self.sock.close, 'bad peer socket')
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with c:
                req = b''
                while b'\r\n\r\n' not in req:
                    d = c.recv(4096)
                    if not d:
                        break
                    req += d
                key = [l.split(b':', 1)[1].strip() for l in req.split(b'\r\n')
                       if l.lower().startswith(b'sec-websocket-key:')]
                if not key:
                    continue
                acc = base64.b64encode(hashlib.sha1(key[0] + self.GUID).digest())
                c.sendall(b'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n'
                          b'Connection: Upgrade\r\nSec-WebSocket-Accept: ' + acc + b'\r\n\r\n')
                c.sendall(bytes([0x81, len(self.payload)]) + self.payload)
                self.conns += 1
                c.settimeout(5)
                try:
                    c.recv(4096)  # the page's close frame
                except OSError:
                    pass
