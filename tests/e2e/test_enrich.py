#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""IP -> application enrichment on a real MariaDB, with clients bound to two source addresses
(127.0.0.2 and 127.0.0.3) and report.keys [app, command, template]:
- the rows carry the app of each client's address (longest prefix), and no client;
- an enrich.file change takes effect at the next period: with a client querying throughout,
  every report's rows have one app for it, the old one, then from one report on the new one;
- POST /enrich/update (token-protected) likewise; a bad body is a 400 naming the line;
- a malformed line in the file is refused with file:line: reason in the log and
  /metrics, and the previous mapping stays in force;
- a malformed file at start exits 2 with file:line: reason;
- the rows' counts sum to the server's Com_select."""
import json
import os
import re
import threading
import time
import urllib.error
import urllib.request

import mp

PORT = 3324
HTTP = 8667
TOKEN = 'enrich-token'


def connect(src):
    import pymysql
    return pymysql.connect(host='127.0.0.1', port=PORT, user='mp', password='mp', database='mp',
                           autocommit=True, bind_address=src)


def com_select(db):
    # Unix socket: not captured; SHOW STATUS is not a SELECT.
    rows = db.sql("SHOW GLOBAL STATUS LIKE 'Com_select'", socket=True)
    return int(rows[0][1])


def write_atomic(path, text):
    """The way an operator's tool should replace the file: write aside, rename."""
    with open(path + '.tmp', 'w') as f:
        f.write(text)
    os.rename(path + '.tmp', path)


def post(body, token=TOKEN):
    req = urllib.request.Request(f'http://127.0.0.1:{HTTP}/enrich/update',
                                 data=body.encode(), method='POST')
    if token:
        req.add_header('Authorization', f'Bearer {token}')
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def metric(name):
    st, body = mp.http_get(f'http://127.0.0.1:{HTTP}/metrics')
    m = re.search(rf'^mysqlprobe_{name} (\d+)$', body, re.M)
    return int(m.group(1)) if m else None


def rows_of(reports, text):
    """(report, row) for each row whose template text is text."""
    out = []
    for r in reports:
        for row in r['stats']:
            if r.get('templates', {}).get(row['template_id']) == text:
                out.append((r, row))
    return out


class Ticker:
    """A client at src running one statement every 20 ms until stopped: traffic that spans
    a mapping change, so the report where the change lands can be seen."""

    def __init__(self, src, sql):
        self.conn, self.sql, self.n = connect(src), sql, 0
        self.stop_ev = threading.Event()
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        with self.conn.cursor() as c:
            while not self.stop_ev.is_set():
                c.execute(self.sql)
                c.fetchall()
                self.n += 1
                self.stop_ev.wait(0.02)

    def stop(self):
        self.stop_ev.set()
        self.t.join(10)
        self.conn.close()


def switch_check(agent, text, old, new, since_seq, name):
    """The rows of template text, in reports after since_seq: each report one app, old then
    new, switching once. Returns the reports seen."""
    reps = [r for r in agent.json_lines() if r['seq'] > since_seq]
    seq_apps = []
    for r in reps:
        apps = {row['app'] for _, row in rows_of([r], text)}
        if apps:
            seq_apps.append((r['seq'], apps))
    flat = [a for _, a in seq_apps]
    one_each = all(len(a) == 1 for a in flat)
    names = [next(iter(a)) for a in flat]
    k = names.index(new) if new in names else len(names)
    mp.check(one_each and names[:k] == [old] * k and names[k:] == [new] * (len(names) - k) and
             0 < k < len(names),
             f'{name}: each period has one app for the moved client, {old} then {new}',
             str(seq_apps))
    return reps


def main():
    mp.need_root('enrichment (namespace, BPF)')
    ns = mp.Netns('enr')
    mp.enter_netns(ns)
    tmp = mp.tempdir('mp-enrich-')
    apps = os.path.join(tmp, 'apps.txt')

    # A malformed file at start: exit 2 with file:line: reason.
    with open(apps, 'w') as f:
        f.write('# apps\n127.0.0.0/8 local\n127.0.0.2/24 oops\n')
    bad = mp.Agent(['-p', str(PORT), '-o', 'none', '--enrich.file', apps,
                    '--serverport', str(HTTP)])
    rc = bad.proc.wait(20)
    bad.stop()
    mp.check(rc == 2 and any(f'{apps}:3: bad CIDR' in l for l in bad.err),
             'a malformed enrich.file at start: exit 2 with file:line: reason',
             f'rc {rc}: {bad.err[-3:]}')

    write_atomic(apps, '# apps\n127.0.0.0/8 local\n127.0.0.2/32 alpha\n127.0.0.3 beta\n')
    db = mp.MariaDB(port=PORT)
    agent = mp.Agent(['-p', str(PORT), '-o', 'report', '--report_period_ms', '500',
                      '--serverport', str(HTTP), '--http.token', TOKEN,
                      '--enrich.file', apps, '--report.keys', 'app,command,template',
                      '--log_level', 'info'])
    agent.wait_ready()
    sel0 = com_select(db)

    # 1. The file as loaded: alpha for .2, beta for .3, "local" for 127.0.0.1 (the /8).
    a, b, c = connect('127.0.0.2'), connect('127.0.0.3'), connect('127.0.0.1')
    for conn, n in ((a, 7), (b, 11), (c, 3)):
        with conn.cursor() as cur:
            for _ in range(n):
                cur.execute('SELECT 1 AS phase_one')
                cur.fetchall()
    text1 = 'SELECT ? AS phase_one'
    mp.poll(lambda: sum(row['count'] for _, row in rows_of(agent.json_lines(), text1)) >= 21,
            timeout=20, what='phase one counted')
    got = {}
    for r, row in rows_of(agent.json_lines(), text1):
        got[row['app']] = got.get(row['app'], 0) + row['count']
    mp.check(got == {'alpha': 7, 'beta': 11, 'local': 3},
             'rows carry the app of the longest prefix, counts per app exact', str(got))
    sample = rows_of(agent.json_lines(), text1)[0]
    mp.check(sample[1]['client'] == '' and sample[1]['db'] == '' and sample[1]['user'] == '' and
             sample[0].get('keys') == ['template', 'command', 'app'],
             'without client/db/user in report.keys those are empty; the report names its keys',
             json.dumps(sample[1])[:300] + ' keys ' + str(sample[0].get('keys')))

    # 2. A file change, with .2 querying throughout: alpha, then gamma from one period on.
    seq0 = max(r['seq'] for r in agent.json_lines())
    tick = Ticker('127.0.0.2', 'SELECT 2 AS phase_two')
    mp.poll(lambda: tick.n >= 30, timeout=20, what='ticker running')
    applied = metric('enrich_applied_total')
    write_atomic(apps, '127.0.0.0/8 local\n127.0.0.2/32 gamma\n127.0.0.3 beta\n')
    mp.poll(lambda: metric('enrich_applied_total') == applied + 1, timeout=10,
            what='the file change applied')
    mp.poll(lambda: any(row['app'] == 'gamma' for _, row in
                        rows_of(agent.json_lines(), 'SELECT ? AS phase_two')),
            timeout=10, what='a report with the new app')
    mp.poll(lambda: tick.n >= 0 and len([r for r in agent.json_lines() if r['seq'] > seq0]) >= 6,
            timeout=10, what='more periods')
    tick.stop()
    switch_check(agent, 'SELECT ? AS phase_two', 'alpha', 'gamma', seq0, 'file change')

    # 3. POST /enrich/update: token required, a bad body is a 400 naming its line, a good one
    # moves .3 from beta to delta from one period on.
    st, body = post('127.0.0.3/32 delta\n', token=None)
    mp.check(st == 401, 'POST /enrich/update without the token: 401', f'{st} {body}')
    st, body = post('127.0.0.3/32 delta\n127.0.0.300/32 x\n')
    mp.check(st == 400 and 'body:2: bad CIDR' in body,
             'POST /enrich/update with a bad line: 400 with body:line: reason', f'{st} {body}')
    st, body = mp.http_get(f'http://127.0.0.1:{HTTP}/enrich/update', token=TOKEN)
    mp.check(st == 405, 'GET /enrich/update: 405', f'{st} {body}')
    seq0 = max(r['seq'] for r in agent.json_lines())
    tick = Ticker('127.0.0.3', 'SELECT 3 AS phase_three')
    mp.poll(lambda: tick.n >= 30, timeout=20, what='ticker running')
    st, body = post('# move .3\n127.0.0.3/32 delta\n')
    mp.check(st == 200 and '"prefixes":3' in body, 'POST /enrich/update: 200', f'{st} {body}')
    mp.poll(lambda: any(row['app'] == 'delta' for _, row in
                        rows_of(agent.json_lines(), 'SELECT ? AS phase_three')),
            timeout=10, what='a report with the posted app')
    mp.poll(lambda: len([r for r in agent.json_lines() if r['seq'] > seq0]) >= 6,
            timeout=10, what='more periods')
    tick.stop()
    switch_check(agent, 'SELECT ? AS phase_three', 'beta', 'delta', seq0, 'POST')

    # 4. A malformed line in the file: refused, logged with file:line: reason, counted; the
    # mapping in force (file + POST) stays.
    refused = metric('enrich_refused_total')
    write_atomic(apps, '127.0.0.0/8 local\n127.0.0.2/32 epsilon\n127.0.0.3 beta extra\n')
    mp.poll(lambda: metric('enrich_refused_total') == refused + 1, timeout=10,
            what='the bad file refused')
    mp.check(any(f'{apps}:3: expected \'CIDR APP\', got more than two fields' in l and
                 'previous mapping stays in force' in l for l in agent.err),
             'the log names file:line: reason', str(agent.err[-3:]))
    seq0 = max(r['seq'] for r in agent.json_lines())
    for conn, n in ((a, 4), (b, 6)):
        with conn.cursor() as cur:
            for _ in range(n):
                cur.execute('SELECT 4 AS phase_four')
                cur.fetchall()
    text4 = 'SELECT ? AS phase_four'
    mp.poll(lambda: sum(row['count'] for _, row in rows_of(agent.json_lines(), text4)) >= 10,
            timeout=20, what='phase four counted')
    got = {}
    for r, row in rows_of(agent.json_lines(), text4):
        got[row['app']] = got.get(row['app'], 0) + row['count']
    mp.check(got == {'gamma': 4, 'delta': 6}, 'after a refused file the previous mapping '
             'stays in force', str(got))
    for conn in (a, b, c):
        conn.close()

    # 5. Exact: the SELECT rows' counts sum to the server's Com_select.
    sel1 = com_select(db)
    def select_total():
        return sum(row['count'] for r in agent.json_lines() for row in r['stats']
                   if r.get('templates', {}).get(row['template_id'], '').startswith('SELECT'))
    try:
        mp.poll(lambda: select_total() >= sel1 - sel0, timeout=10, what='every SELECT counted')
    except TimeoutError:
        pass
    rc = agent.stop()
    mp.check(rc == 0, 'agent exits 0', str(rc))
    mp.check(select_total() == sel1 - sel0,
             "report.keys [app, command, template]: the rows sum to the server's Com_select",
             f'{select_total()} vs {sel1 - sel0}')
    mp.done()


if __name__ == '__main__':
    main()
