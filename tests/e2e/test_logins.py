#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Connections and logins against a real MariaDB: wrong passwords (1045), a missing database
(1049), a database the account may not use (1044) and good logins give, per (user, client),
exact counts of connections opened, logins, failed logins by error code and connections
closed in the reports' "connections" and in /metrics, matching what the clients were told and
the server's own Connections and Access_denied_errors counters."""
import re

import mp

PORT = 3323
HTTP = 8667


def attempt(user, password, db):
    """One connection; returns the MySQL error code, or 0 for a login that worked."""
    import pymysql
    try:
        c = pymysql.connect(host='127.0.0.1', port=PORT, user=user, password=password,
                            database=db, autocommit=True)
    except pymysql.MySQLError as e:
        return e.args[0]
    with c.cursor() as cur:
        cur.execute('SELECT 1')
    c.close()
    return 0


def status(db):
    """Connections and Access_denied_errors in one read (Unix socket: a connection the capture
    does not see, but Connections counts it)."""
    rows = db.sql("SHOW GLOBAL STATUS WHERE Variable_name IN ('Connections', "
                  "'Access_denied_errors')", socket=True)
    return {k: int(v) for k, v in rows}


def totals(reports):
    out = {}
    for r in reports:
        for row in r.get('connections', []):
            t = out.setdefault((row['user'], row['client']),
                               {'opened': 0, 'logins': 0, 'failed': 0, 'closed': 0, 'codes': {}})
            for k in ('opened', 'logins', 'failed', 'closed'):
                t[k] += row[k]
            for code, n in row['error_codes'].items():
                t['codes'][code] = t['codes'].get(code, 0) + n
    return out


def main():
    mp.need_root('logins (namespace, BPF)')
    mp.enter_netns(mp.Netns('log'))
    db = mp.MariaDB(port=PORT)
    db.sql("CREATE USER 'limited'@'%' IDENTIFIED BY 'lim'; GRANT SELECT ON mp.* TO "
           "'limited'@'%'; CREATE DATABASE other", socket=True, db=None)
    agent = mp.Agent(['-p', str(PORT), '-o', 'none', '--report_period_ms', '1000',
                      '--serverport', str(HTTP)])
    agent.wait_ready()
    col = mp.Collector(HTTP, json_format=True)
    before = status(db)
    told = []
    told += [('mp', attempt('mp', 'wrong', 'mp')) for _ in range(3)]
    told += [('mp', attempt('mp', 'mp', 'nosuch')) for _ in range(2)]
    told += [('limited', attempt('limited', 'lim', 'other')) for _ in range(2)]
    told += [('mp', attempt('mp', 'mp', 'mp')) for _ in range(4)]
    told += [('limited', attempt('limited', 'lim', 'mp'))]
    after = status(db)
    want = {}
    for user, code in told:
        t = want.setdefault((user, '127.0.0.1'),
                            {'opened': 0, 'logins': 0, 'failed': 0, 'closed': 0, 'codes': {}})
        t['opened'] += 1
        t['closed'] += 1
        if code:
            t['failed'] += 1
            t['codes'][str(code)] = t['codes'].get(str(code), 0) + 1
        else:
            t['logins'] += 1
    mp.diag(f'clients were told: {sorted(set(c for _, c in told))}; server deltas '
            f"Connections {after['Connections'] - before['Connections']}, "
            f"Access_denied_errors {after['Access_denied_errors'] - before['Access_denied_errors']}")
    mp.check({c for _, c in told} == {0, 1044, 1045, 1049},
             'the server answered 1045, 1049, 1044 and OK', str(told))
    mp.poll(lambda: sum(t['closed'] for t in totals(r for _, r in col.reports).values())
            >= len(told), timeout=20, what='every connection closed in a report')
    got = totals(r for _, r in col.reports)
    mp.check(got == want, 'connections: exact opened, logins, failed by code, closed per '
             '(user, client)', f'got {got} want {want}')
    # Connections counts every attempt, and the second status read (Unix socket, not captured).
    opened = sum(t['opened'] for t in got.values())
    mp.check(opened == after['Connections'] - before['Connections'] - 1,
             "opened equals the server's Connections (less the status read)",
             f"{opened} vs {after['Connections'] - before['Connections'] - 1}")
    denied = sum(n for t in got.values() for c, n in t['codes'].items() if c in ('1044', '1045'))
    mp.check(denied == after['Access_denied_errors'] - before['Access_denied_errors'],
             "1044 + 1045 equal the server's Access_denied_errors", str(denied))
    st, body = mp.http_get(f'http://127.0.0.1:{HTTP}/metrics')
    m = {k: int(v) for k, v in re.findall(
        r'^mysqlprobe_login_failures_total\{code="(\d+)"\} (\d+)$', body, re.M)}
    ok = re.search(r'^mysqlprobe_logins_total\{outcome="ok"\} (\d+)$', body, re.M)
    mp.check(m == {'1044': 2, '1045': 3, '1049': 2} and ok and int(ok.group(1)) == 5,
             '/metrics: logins and failures by code', f'{m} {ok and ok.group(0)}')
    agent.stop()
    mp.done()


if __name__ == '__main__':
    main()
