#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The watcher against a real MariaDB: connections opened before the agent started (their
handshake never seen) get their user, db and conn_id in events and reports once the watcher
has read PROCESSLIST; the watcher's own statements are in no event, report or counter; a
wrong password (or an account without PROCESS) gives one clear line, counted in /metrics, while
capture goes on; the password appears nowhere (stderr, /status, /metrics)."""
import json
import os
import re
import signal

import mp

PORT = 3321
HTTP = 8667
PASSWORD = 'w4tch-s3cret-pw'


def metric(name):
    st, body = mp.http_get(f'http://127.0.0.1:{HTTP}/metrics')
    m = re.search(r'^' + re.escape(name) + r' (\d+)$', body, re.M) if st == 200 else None
    return int(m.group(1)) if m else None


def connect(user, password, db):
    import pymysql
    return pymysql.connect(host='127.0.0.1', port=PORT, user=user, password=password,
                           database=db, autocommit=True)


def one(c, sql):
    with c.cursor() as cur:
        cur.execute(sql)
        return cur.fetchall()


def secret_file(tmp, text):
    path = os.path.join(tmp, 'watcher.pw')
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), 'w') as f:
        f.write(text + '\n')
    return path


def check_identities(db, tmp):
    # Opened, and moved to another db, before the agent starts: the wire never shows who.
    a = connect('mp', 'mp', 'mp')
    b = connect('mp', 'mp', 'mp')
    one(b, 'USE other')
    c = connect('app2', 'app2pw', None)
    ids = {k: one(x, 'SELECT CONNECTION_ID()')[0][0] for k, x in (('a', a), ('b', b), ('c', c))}
    agent = mp.Agent(['-p', str(PORT), '-o', 'events', '--report_period_ms', '1000',
                      '--serverport', str(HTTP), '--watcher.uname', 'watch',
                      '--watcher.password_file', secret_file(tmp, PASSWORD),
                      '--watcher.interval_s', '1'])
    agent.wait_ready()
    col = mp.Collector(HTTP, json_format=True)
    # One watcher interval: the first read is at start, the next a second later.
    mp.poll(lambda: (metric('mysqlprobe_watcher_polls_total{outcome="ok"}') or 0) >= 1,
            timeout=5, what='a first PROCESSLIST read')
    for k, x in (('a', a), ('b', b), ('c', c)):
        one(x, f'SELECT 1 AS mark_{k}')
    mp.poll(lambda: sum('mark_' in l for l in agent.lines) >= 3, what='the marker events')
    n_rep = len(col.reports)
    col.wait(n_rep + 2)
    ev = {e['sql'][-6:]: e for e in agent.json_lines()
          if (e.get('sql') or '').startswith('SELECT 1 AS mark_')}
    want = {'mark_a': ('mp', 'mp', ids['a']), 'mark_b': ('mp', 'other', ids['b']),
            'mark_c': ('app2', None, ids['c'])}
    got = {k: (e['user'], e['db'], e['conn_id']) for k, e in ev.items()}
    mp.check(got == want, 'connections opened before the agent: user, db and conn_id in events',
             f'got {got} want {want}')
    rows = {}
    for _, r in col.reports:
        for row in r['stats']:
            text = r['templates'].get(row['template_id'], '')
            if 'mark_' in text:
                rows[text] = (row['user'], row['db'])
    mp.check(rows.get('SELECT ? AS mark_a') == ('mp', 'mp') and
             rows.get('SELECT ? AS mark_b') == ('mp', 'other') and
             rows.get('SELECT ? AS mark_c') == ('app2', ''),
             'and in the report rows', str(rows))
    own = [e for e in agent.json_lines() if 'PROCESSLIST' in (e.get('sql') or '') or
           'USER_PRIVILEGES' in (e.get('sql') or '')]
    texts = [t for _, r in col.reports for t in r['templates'].values()
             if 'PROCESSLIST' in t or 'USER_PRIVILEGES' in t]
    mp.check(not own and not texts, "the watcher's own statements are in no event or report",
             f'{len(own)} events, templates {texts[:2]}')
    polls = metric('mysqlprobe_watcher_polls_total{outcome="ok"}')
    stmts = metric('mysqlprobe_statements_total')
    mp.diag(f'watcher reads {polls}, statements counted {stmts}, '
            f"identified {metric('mysqlprobe_watcher_identified_total')}")
    mp.check(polls >= 2 and stmts == 3,
             "nor in statements_total: the 3 markers only (each read is two statements)",
             f'polls {polls} statements {stmts}')
    st, status = mp.http_get(f'http://127.0.0.1:{HTTP}/status')
    w = json.loads(status).get('watcher') if st == 200 else None
    mp.check(w and w['connected'] and w['polls'] >= 1 and w['identified'] >= 3,
             '/status shows the watcher connected, its reads, connections identified', status[-300:])
    for x in (a, b, c):
        x.close()
    rc = agent.stop(signal.SIGTERM)
    mp.check(rc == 0, 'agent exits 0', str(rc))
    blob = '\n'.join(agent.err) + status
    mp.check(PASSWORD not in blob, 'the password appears in no log line and not in /status')


def check_bad_password(db, tmp):
    agent = mp.Agent(['-p', str(PORT), '-o', 'events', '--report_period_ms', '1000',
                      '--serverport', str(HTTP), '--watcher.uname', 'watch',
                      '--watcher.password_file', secret_file(tmp, 'not-' + PASSWORD),
                      '--watcher.interval_s', '1'])
    agent.wait_ready()
    mp.poll(lambda: (metric('mysqlprobe_watcher_connect_errors_total') or 0) >= 3, timeout=15,
            what='three failed connection attempts')
    x = connect('mp', 'mp', 'mp')
    one(x, "SELECT 'still_capturing'")
    x.close()
    mp.poll(lambda: any('still_capturing' in l for l in agent.lines), timeout=10,
            what='the statement captured meanwhile')
    _, metrics = mp.http_get(f'http://127.0.0.1:{HTTP}/metrics')
    _, status = mp.http_get(f'http://127.0.0.1:{HTTP}/status')
    rc = agent.stop(signal.SIGTERM)
    lines = [l for l in agent.err if l.startswith('watcher:')]
    mp.diag(lines[0] if lines else 'no watcher line')
    mp.check(len(lines) == 1 and 'Access denied' in lines[0] and "'watch'" in lines[0],
             'a wrong password: one clear line (logged once a minute) for 3+ attempts',
             str(lines))
    mp.check(rc == 0, 'and the agent captured meanwhile and exits 0', str(rc))
    mp.check('mysqlprobe_watcher_up 0' in metrics, '/metrics: watcher_up 0', metrics[-400:])
    blob = '\n'.join(agent.err) + metrics + status
    mp.check('not-' + PASSWORD not in blob and PASSWORD not in blob,
             'the password appears in no log line, /metrics or /status')


def check_no_privilege(db, tmp):
    """An account without PROCESS sees only its own connections: one line, counted."""
    other = connect('mp', 'mp', 'mp')
    agent = mp.Agent(['-p', str(PORT), '-o', 'events', '--report_period_ms', '1000',
                      '--serverport', str(HTTP), '--watcher.uname', 'weak',
                      '--watcher.password_file', secret_file(tmp, 'weakpw'),
                      '--watcher.interval_s', '1'])
    agent.wait_ready()
    mp.poll(lambda: (metric('mysqlprobe_watcher_privilege_errors_total') or 0) >= 2,
            timeout=10, what='two reads without the privilege')
    one(other, 'SELECT 1 AS unseen')
    mp.poll(lambda: any('unseen' in l for l in agent.lines), what='the statement')
    other.close()
    rc = agent.stop(signal.SIGTERM)
    ev = [e for e in agent.json_lines() if (e.get('sql') or '').endswith('AS unseen')]
    lines = [l for l in agent.err if l.startswith('watcher:')]
    mp.check(len(lines) == 1 and 'PROCESS privilege' in lines[0],
             'without PROCESS: one line naming the privilege', str(lines))
    mp.check(rc == 0 and len(ev) == 1 and ev[0]['user'] is None,
             "and other accounts' connections stay unknown, capture goes on",
             json.dumps(ev)[:200])


def main():
    mp.need_root('the watcher (namespace, BPF)')
    mp.enter_netns(mp.Netns('wat'))
    tmp = mp.tempdir('mp-wat-')
    db = mp.MariaDB(port=PORT)
    db.sql(f"CREATE USER 'watch'@'%' IDENTIFIED BY '{PASSWORD}'; GRANT PROCESS ON *.* TO "
           "'watch'@'%'; CREATE USER 'app2'@'%' IDENTIFIED BY 'app2pw'; "
           "CREATE DATABASE other; GRANT SELECT ON other.* TO 'mp'@'%'; "
           "CREATE USER 'weak'@'%' IDENTIFIED BY 'weakpw'", socket=True, db=None)
    with mp.case('identities from the watcher'):
        check_identities(db, tmp)
    with mp.case('a wrong password'):
        check_bad_password(db, tmp)
    with mp.case('no PROCESS privilege'):
        check_no_privilege(db, tmp)
    mp.done()


if __name__ == '__main__':
    main()
