#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Every statement MariaDB executed over TCP appears once in the agent's events, with the
server's own text, rows and error code (performance_schema.events_statements_history_long).

Only user 'mp' is instrumented (setup_actors), so the test's own reads over the unix socket
as root never enter the comparison.
"""
import collections
import os

import mp

PORT = 3313
TEXT_CAP = 1024  # performance_schema_max_sql_text_length default: server texts are cut here


def tls_files(d):
    key, crt = os.path.join(d, 'key.pem'), os.path.join(d, 'cert.pem')
    mp.sh(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', crt,
           '-days', '2', '-subj', '/CN=mysqlprobe-test'])
    return key, crt



WORKLOAD = r'''
import pymysql, MySQLdb
from pymysql.constants import CLIENT
P = %d
def conn(**kw):
    return pymysql.connect(host='127.0.0.1', port=P, user='mp', password='mp', database='mp',
                           autocommit=True, **kw)
c = conn()
cur = c.cursor()
cur.execute("CREATE TABLE t (id INT PRIMARY KEY AUTO_INCREMENT, v VARCHAR(64), n INT)")
for i in range(20):
    cur.execute("INSERT INTO t (v, n) VALUES (%%s, %%s)", ('row%%d' %% i, i))
cur.execute("INSERT INTO t (v, n) VALUES ('a', 1), ('b', 2), ('c', 3)")
cur.execute("UPDATE t SET n = n + 1 WHERE n < 10")
cur.execute("SELECT * FROM t WHERE n > 5")
cur.execute("SELECT COUNT(*) FROM t")
cur.execute("SELECT SLEEP(0.05)")
cur.execute("SELECT SLEEP(0.02), 'a'")
cur.execute("SELECT SLEEP(0.1), 'b'")
cur.execute("DELETE FROM t WHERE v = 'b'")
for q in ("SELECT * FROM no_such_table", "SELEC 1", "INSERT INTO t (id) VALUES (1)"):
    try:
        cur.execute(q)
    except pymysql.MySQLError:
        pass
cur.execute("CREATE PROCEDURE p2() BEGIN SELECT 1 AS a; SELECT id, v FROM t LIMIT 3; END")
cur.execute("CALL p2()")
while cur.nextset():
    pass
cur.execute("USE mysql")
cur.execute("SELECT 'in the mysql db'")
cur.execute("USE mp")
big = 'x' * (20 << 20)
cur.execute("SELECT LENGTH('" + big + "')")
c.close()
m = conn(client_flag=CLIENT.MULTI_STATEMENTS)
mc = m.cursor()
mc.execute("SELECT 1; SELECT 2, 3; INSERT INTO t (v, n) VALUES ('m', 9); SELECT * FROM t LIMIT 2")
while mc.nextset():
    pass
m.close()
l = conn(local_infile=True)
lc = l.cursor()
with open(%r, 'w') as f:
    f.write(''.join('li%%d,%%d\n' %% (i, i) for i in range(50)))
lc.execute("LOAD DATA LOCAL INFILE %r INTO TABLE t FIELDS TERMINATED BY ',' (v, n)")
l.close()
d = MySQLdb.connect(host='127.0.0.1', port=P, user='mp', passwd='mp', db='mp')
d.query("SELECT 'before change'")
d.store_result()
d.change_user('mp2', 'mp2', 'mp')
d.query("SELECT 'after change', CURRENT_USER()")
d.store_result()
d.close()
'''


def server_statements(db):
    """Top-level statements as (text, rows_sent, rows_affected, errno, timer_wait_us).

    A CALL's own ROWS_SENT is 0 in performance_schema: its rows belong to the
    statements nested in it. On the wire they are the CALL's, so the CALL gets
    the sum of its children's. MariaDB gives each statement of a multi-statement
    query the rest of the query text from that statement on: cut at the split point
    the agent reports (see match())."""
    rows = db.sql("SELECT e.EVENT_ID, IFNULL(e.NESTING_EVENT_ID, 0), e.EVENT_NAME, e.SQL_TEXT, "
                  "e.ROWS_SENT, e.ROWS_AFFECTED, IFNULL(e.MYSQL_ERRNO, 0), e.TIMER_WAIT, "
                  "e.THREAD_ID FROM performance_schema.events_statements_history_long e "
                  "WHERE e.EVENT_NAME LIKE 'statement/sql/%' OR e.NESTING_EVENT_ID IS NOT NULL "
                  "ORDER BY e.THREAD_ID, e.EVENT_ID", socket=True, db=None,
                  extra=['--max-allowed-packet=64M'])
    nested = collections.Counter()
    for eid, parent, name, text, sent, aff, errno, wait, tid in rows:
        if parent != '0':
            nested[(tid, parent)] += int(sent)
    out = []
    for eid, parent, name, text, sent, aff, errno, wait, tid in rows:
        if parent != '0':
            continue
        sent = int(sent) + nested[(tid, eid)]
        out.append((text, sent, int(aff), int(errno), int(wait) // 1000000))
    return out


def key(text, sent, aff, errno):
    return (text[:TEXT_CAP - 8], sent, aff, errno)


def match(pool, text, sent, aff, errno):
    """The agent event key equal to a server statement: the same text, or (a statement of a
    multi-statement query) the agent's text followed by ';' and the rest of the query."""
    k = key(text, sent, aff, errno)
    if pool[k] > 0:
        return k
    for (t, s, a, n), c in pool.items():
        if c > 0 and (s, a, n) == (sent, aff, errno) and text.startswith(t) and \
                text[len(t):].lstrip().startswith(';'):
            return (t, s, a, n)
    return None


def main():
    mp.need_root('decode against a live server (namespace, BPF)')
    tmp = mp.tempdir('mp-dec-', mode=0o755)
    key_pem, crt_pem = tls_files(tmp)
    ns = mp.Netns('dec')
    db = mp.MariaDB(port=PORT, netns=ns, extra=(f'--ssl-cert={crt_pem}', f'--ssl-key={key_pem}'))
    db.sql("CREATE USER 'mp2'@'%' IDENTIFIED BY 'mp2'; GRANT ALL ON *.* TO 'mp2'@'%';"
           "TRUNCATE performance_schema.setup_actors;"
           "INSERT INTO performance_schema.setup_actors VALUES "
           "('%','mp','%','YES','YES'),('%','mp2','%','YES','YES');",
           socket=True, db=None)
    # A new root connection: no longer instrumented, so this stays out of the history.
    db.sql("TRUNCATE performance_schema.events_statements_history_long", socket=True, db=None)
    agent = mp.Agent(['-p', str(PORT), '-o', 'events'], netns=ns)
    agent.wait_ready()
    mp.run_py(ns, WORKLOAD % (PORT, os.path.join(tmp, 'data.csv'), os.path.join(tmp, 'data.csv')))
    # The compressed protocol and a TLS connection, with the real client.
    mp.sh(db.client_argv(extra=['--compress', '--skip-ssl', '-N', '-e',
                                'SELECT 42, REPEAT("z", 5000)']), netns=ns)
    mp.sh(db.client_argv(extra=['--ssl', '--ssl-verify-server-cert=0', '-N', '-e',
                                'SELECT "tls"']), netns=ns)
    want = server_statements(db)

    def complete():
        got = [e for e in agent.json_lines() if e.get('command') == 'query']
        return len(got) >= len(want) - 1  # the TLS statement is never decoded
    mp.wait_until(complete, timeout=20, every=0.2, what='events for every statement')
    rc = agent.stop()
    db.stop()
    events = agent.json_lines()
    if os.environ.get('MP_TEST_DEBUG'):
        for w in want:
            mp.diag(f'server: {w[0][:80]!r} {w[1:]}')
        for e in events:
            mp.diag(f'agent: {e["command"]} {(e["sql"] or "")[:80]!r} {e["rows_sent"]} '
                    f'{e["rows_affected"]} {e["error_code"]} {e["flags"]}')
    mp.check(rc == 0, 'agent exits 0')
    queries = [e for e in events if e.get('command') == 'query']
    server = [w for w in want if w[0] != 'SELECT "tls"']
    pool = collections.Counter(key(e['sql'] or '', e['rows_sent'], e['rows_affected'],
                                   e['error_code']) for e in queries)
    missing = []
    for t, s, a, n, _ in server:
        k = match(pool, t, s, a, n)
        if k:
            pool[k] -= 1
        else:
            missing.append((t[:80], s, a, n))
    extra = +pool
    mp.check(not missing and not extra and len(want) > 40,
             f'every server statement appears once with text, rows and error '
             f'({len(want)} statements)',
             f'missing {missing[:5]} extra {list(extra.items())[:5]}')
    # Latency on the wire includes the server's own execution time.
    waits = {key(t, s, a, n): w for t, s, a, n, w in want}
    short = [(e['sql'][:60], e['latency_us'], waits[k]) for e in queries
             for k in [key(e['sql'] or '', e['rows_sent'], e['rows_affected'], e['error_code'])]
             if k in waits and e['latency_us'] < waits[k]]
    # latency_us >= TIMER_WAIT does not hold in general, and not because of the agent: the
    # server's statement timer starts once it has read the request (inside the wire window)
    # but stops after the end-of-statement work that follows the response (status, logging,
    # cleanup) and after any wait for a CPU once the response is written; after
    # COM_CHANGE_USER it even starts early (3 ms for a 50 us SELECT). On this 2-core machine
    # a SLEEP(0.05) showed 50,278 us on the wire against a 50,754 us timer. What is certain
    # is checked instead: where the execution time is known (SLEEP), the wire latency and
    # the time to the first response byte include it. The timer comparisons are printed.
    for s in short:
        mp.diag(f'TIMER_WAIT above wire latency (sql, latency_us, timer_us): {s}')
    ratio = 1 - len(short) / max(1, len(waits))
    mp.diag(f'latency_us >= TIMER_WAIT for {ratio:.0%} of statements')
    sleeps = {e['sql']: e for e in queries if (e['sql'] or '').startswith('SELECT SLEEP(')}
    for sql, secs in (('SELECT SLEEP(0.05)', 0.05), ("SELECT SLEEP(0.02), 'a'", 0.02),
                      ("SELECT SLEEP(0.1), 'b'", 0.1)):
        e = sleeps.get(sql, {})
        us = int(secs * 1e6)
        mp.check(us <= e.get('first_byte_us', -1) <= e.get('latency_us', -1) < us + 100000,
                 f'{sql}: first byte and latency include the {us} us of execution',
                 str(e)[:300])
    errs = [e for e in queries if e['status'] == 'error']
    mp.check(any(e['error_code'] == 1146 and e['sqlstate'] == '42S02' for e in errs),
             'errors carry code and sqlstate')
    big = [e for e in queries if e['sql'] and e['sql'].startswith("SELECT LENGTH('xxx")]
    mp.check(len(big) == 1 and 'truncated' in (big[0].get('flags') or []),
             '20 MiB statement reported once, flagged truncated', str(big[:1])[:300])
    dbs = {e['sql']: e['db'] for e in queries}
    mp.check(dbs.get("SELECT 'in the mysql db'") == 'mysql',
             'USE switches the db of later events', str(dbs.get("SELECT 'in the mysql db'")))
    users = {e['sql']: e['user'] for e in queries}
    mp.check(users.get("SELECT 'before change'") == 'mp' and
             users.get("SELECT 'after change', CURRENT_USER()") == 'mp2',
             'COM_CHANGE_USER switches the user of later events')
    call = [e for e in queries if e['sql'] == 'CALL p2()']
    mp.check(len(call) == 1, 'a CALL with two result sets is one event')
    tls = [l for l in agent.err if 'decode:' in l]
    mp.check(tls and 'tls_conns=1' in tls[-1], 'the TLS connection is counted, not decoded',
             tls[-1] if tls else '')
    mp.check(tls and ' gaps=0' in tls[-1] and 'decode_errors=0' in tls[-1],
             'no gaps and no decode errors', tls[-1] if tls else '')
    mp.done()


if __name__ == '__main__':
    main()
