#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Templates against the server's own statement digests.

Runs a varied workload on a real MariaDB (each shape several times with other literals,
spacing, comments, keyword case, IN-list lengths, VALUES row counts), reads DIGEST and
SQL_TEXT back from performance_schema.events_statements_history_long, computes template ids
with `mysqlprobe template --split` and checks: statements the server gives one digest always
get one template id. Where we merge what the server keeps apart (on purpose, see
docs/TEMPLATES.md) is reported as TAP diagnostics.
"""
import os
import random
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mp  # noqa: E402

PORT = 3306  # inside the test's own namespace: no port of the host is taken
RUNS = 6
# Statements the server merges but we keep apart on purpose carry this marker.
SPLIT_MARK = '/* mp-deliberate-split */'

KEYWORDS = ('SELECT FROM WHERE AND OR IN ORDER BY LIMIT INSERT INTO VALUES UPDATE SET DELETE '
            'JOIN ON GROUP HAVING BETWEEN IS NOT NULL LIKE DISTINCT DESC AS COUNT SUM NOW '
            'INTERVAL DAY FOR CASE WHEN THEN ELSE END EXISTS IF CONCAT COALESCE MAX MIN AVG '
            'DATE REPLACE DUPLICATE KEY LEFT').split()
KW_RE = re.compile(r'\b(' + '|'.join(KEYWORDS) + r')\b')

SETUP = """
CREATE TABLE sbtest1 (id INT PRIMARY KEY, k INT, c CHAR(120), pad CHAR(60), KEY (k));
CREATE TABLE users (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(64), email VARCHAR(64),
  status INT, created DATETIME, score DECIMAL(10,2));
CREATE TABLE orders (id INT AUTO_INCREMENT PRIMARY KEY, user_id INT, amount DECIMAL(10,2),
  note VARCHAR(64));
INSERT INTO users (name, email, status, created, score) VALUES ('ann', 'a@x', 1, NOW(), 1.5),
  ('bob', 'b@x', NULL, NOW(), 2.5);
INSERT INTO orders (user_id, amount, note) VALUES (1, 10, 'x'), (2, 20, 'y');
"""


class Gen:
    """Literal generators: every call gives another value or another way to write one."""

    def __init__(self, seed):
        self.r = random.Random(seed)

    def n(self):
        return str(self.r.randint(1, 100000))

    def f(self):
        return self.r.choice(['1.5', '0.25', '1e3', '2.5E-2', '.75', '100'])

    def signed(self):
        v = self.r.randint(1, 999)
        return self.r.choice([f'-{v}', f'- {v}', f'{v}', f'-{v}.5'])

    def s(self):
        return self.r.choice(["'abc'", "'it''s'", "'a\\'b'", '"dq"', "'x y z'", "'é ü'",
                              "''", "'semi;colon'", "'--not a comment'"])

    def hexlit(self):
        return self.r.choice(['0x1F', '0xff', "X'1F'", "x'0a'"])

    def lst(self):
        return ', '.join(self.n() for _ in range(self.r.choice([1, 1, 2, 3, 7, 30])))

    def rows(self):
        return ', '.join(f"({self.n()}, {self.f()}, {self.s()})"
                         for _ in range(self.r.randint(1, 5)))

    def pairs(self):
        return ', '.join(f'({self.n()}, {self.n()})' for _ in range(self.r.randint(1, 4)))


# (name, format): {n} {f} {s} {signed} {hexlit} {lst} {rows} {pairs} are literal slots.
SHAPES = [
    ('point select', 'SELECT c FROM sbtest1 WHERE id = {n}'),
    ('range', 'SELECT c FROM sbtest1 WHERE id BETWEEN {n} AND {n}'),
    ('range sum', 'SELECT SUM(k) FROM sbtest1 WHERE id BETWEEN {n} AND {n}'),
    ('range order', 'SELECT c FROM sbtest1 WHERE id BETWEEN {n} AND {n} ORDER BY c'),
    ('range distinct', 'SELECT DISTINCT c FROM sbtest1 WHERE id BETWEEN {n} AND {n} ORDER BY c'),
    ('update index', 'UPDATE sbtest1 SET k = k + 1 WHERE id = {n}'),
    ('update non-index', 'UPDATE sbtest1 SET c = {s} WHERE id = {n}'),
    ('delete', 'DELETE FROM sbtest1 WHERE id = {n}'),
    ('insert', 'INSERT INTO sbtest1 (id, k, c, pad) VALUES ({n}, {n}, {s}, {s})'),
    ('in list', 'SELECT * FROM users WHERE id IN ({lst})'),
    ('in list and', 'SELECT name FROM users WHERE status IN ({lst}) AND score > {f}'),
    ('multi-row insert', 'INSERT INTO orders (user_id, amount, note) VALUES {rows}'),
    ('insert now', 'INSERT INTO orders (user_id, amount, note) VALUES ({n}, {f}, NOW())'),
    ('string eq', 'SELECT * FROM users WHERE name = {s}'),
    ('signed', 'SELECT * FROM users WHERE score = {signed}'),
    ('like limit', "SELECT * FROM users WHERE email LIKE {s} LIMIT {n}"),
    ('limit offset', 'SELECT * FROM users ORDER BY created DESC LIMIT {n}, {n}'),
    ('count', 'SELECT COUNT(*) FROM orders WHERE user_id = {n}'),
    ('join', 'SELECT u.name, o.amount FROM users u JOIN orders o ON o.user_id = u.id '
             'WHERE u.id = {n}'),
    ('group having', 'SELECT user_id, SUM(amount) FROM orders GROUP BY user_id '
                     'HAVING SUM(amount) > {f}'),
    ('interval', 'SELECT * FROM users WHERE created > NOW() - INTERVAL {n} DAY'),
    ('hex', 'SELECT * FROM users WHERE id = {hexlit}'),
    ('is null', 'SELECT * FROM users WHERE status IS NULL AND id > {n}'),
    ('is not null', 'SELECT * FROM users WHERE status IS NOT NULL AND id < {n}'),
    ('set null', 'UPDATE users SET status = {nullable} WHERE id = {n}'),
    ('quoted idents', 'SELECT {q}name{q}, {q}email{q} FROM {q}users{q} WHERE {q}id{q} = {n}'),
    ('for update', 'SELECT id, name FROM users WHERE id = {n} FOR UPDATE'),
    ('row in', 'SELECT * FROM users WHERE (id, status) IN ({pairs})'),
    ('in subquery', 'SELECT * FROM users WHERE id IN (SELECT user_id FROM orders '
                    'WHERE amount > {f})'),
    ('if', "SELECT IF(score > {f}, 'hi', 'lo') FROM users WHERE id = {n}"),
    ('concat', 'SELECT CONCAT(name, {s}) FROM users WHERE id = {n}'),
    ('exists', 'SELECT a.id FROM users a WHERE EXISTS (SELECT 1 FROM orders b '
               'WHERE b.user_id = a.id AND b.amount > {f})'),
    ('upsert', 'INSERT INTO users (name, email, status, created, score) VALUES '
               '({s}, {s}, {n}, NOW(), {f}) ON DUPLICATE KEY UPDATE status = VALUES(status)'),
    ('replace', 'REPLACE INTO orders (id, user_id, amount, note) VALUES ({n}, {n}, {f}, {s})'),
    ('delete limit', 'DELETE FROM orders WHERE user_id = {n} AND amount < {f} LIMIT {n}'),
    ('coalesce', 'SELECT COALESCE(status, {n}) FROM users WHERE id = {n}'),
    ('case', "SELECT CASE WHEN score > {f} THEN 'a' WHEN score > {f} THEN 'b' ELSE 'c' END "
             'FROM users WHERE id = {n}'),
    ('anti join', 'SELECT * FROM users u LEFT JOIN orders o ON o.user_id = u.id '
                  'WHERE o.id IS NULL LIMIT {n}'),
    ('aggregates', 'SELECT MAX(amount), MIN(amount), AVG(amount) FROM orders '
                   'WHERE user_id IN ({lst})'),
    ('update mul', 'UPDATE orders SET amount = amount * {f} WHERE id = {n}'),
    ('between signed', 'SELECT * FROM users WHERE score BETWEEN {signed} AND {signed}'),
    ('group date', 'SELECT DATE(created), COUNT(*) FROM users GROUP BY DATE(created) '
                   'ORDER BY 1 DESC LIMIT {n}'),
    ('set var', 'SET @x = {n}'),
    ('use var', 'SELECT @x + {n}'),
    ('three conds', 'SELECT name FROM users WHERE id = {n} AND email = {s} AND status = {n} '
                    'ORDER BY name LIMIT 1'),
    ('select literal', 'SELECT {n}'),
    ('value list', 'SELECT {n}, {s}, {f}'),
    ('charset', "SELECT * FROM users WHERE name = {cs}"),
    ('null in list', 'SELECT * FROM users WHERE status IN (NULL, {lst})'),
]


def vary(g, fmt):
    """Another way to write the same statement: keyword case, spacing, comments."""
    r = g.r
    sql = KW_RE.sub(lambda m: r.choice([m.group(1), m.group(1).lower(),
                                        m.group(1).capitalize()]), fmt)
    sql = re.sub(r' = ', lambda m: r.choice([' = ', '=', ' =', '=  ']), sql)
    sql = re.sub(r', ', lambda m: r.choice([', ', ',', ' , ', ',\n']), sql)
    sql = re.sub(r' ', lambda m: r.choice([' ', ' ', '  ', '\n', '\t']), sql)
    slots = {
        'n': g.n, 'f': g.f, 's': g.s, 'signed': g.signed, 'hexlit': g.hexlit, 'lst': g.lst,
        'rows': g.rows, 'pairs': g.pairs,
        'nullable': lambda: r.choice(['NULL', 'null', g.n()]),
        'q': lambda: '`',
        'cs': lambda: r.choice(["_utf8mb4'ann'", "'ann'", "_latin1'bob'"]),
    }
    qchoice = r.choice(['`', ''])
    sql = re.sub(r'\{(\w+)\}', lambda m: qchoice if m.group(1) == 'q' else slots[m.group(1)](),
                 sql)
    c = r.randint(0, 4)
    if c == 1:
        sql = f'/* req:{g.n()} */ ' + sql
    elif c == 2:
        sql = sql.replace(' ', f' /* c{g.n()} */ ', 1)
    elif c == 3:
        sql += f' -- tail {g.n()}\n'
    elif c == 4:
        sql += f'\n# note {g.n()}\n'
    return sql


def workload():
    g = Gen(1234)
    out = []
    for _ in range(RUNS):
        for _name, fmt in SHAPES:
            out.append(vary(g, fmt))
    g.r.shuffle(out)
    # Hints: MariaDB ignores them (a plain comment to it), we keep them.
    out.append(SPLIT_MARK + ' SELECT /*+ NO_INDEX(users) */ name FROM users WHERE id = 1')
    out.append(SPLIT_MARK + ' SELECT name FROM users WHERE id = 2')
    return out


def history(db):
    rows = db.sql("SELECT DIGEST, HEX(DIGEST_TEXT), HEX(SQL_TEXT) "
                  "FROM performance_schema.events_statements_history_long "
                  "WHERE CURRENT_SCHEMA = 'mp' AND DIGEST IS NOT NULL AND SQL_TEXT IS NOT NULL "
                  "ORDER BY THREAD_ID, EVENT_ID", socket=True, db=None)
    return [(d, bytes.fromhex(dt).decode('utf-8', 'replace'),
             bytes.fromhex(st).decode('utf-8', 'replace')) for d, dt, st in rows]


def templates(texts):
    data = '\n;\n'.join(texts) + '\n'
    r = subprocess.run([mp.BIN, 'template', '--split', '-'], input=data.encode(),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True)
    lines = r.stdout.decode('utf-8', 'replace').splitlines()
    return [tuple(l.split('\t', 1)) for l in lines]


def report_merges(rows, ids):
    by_id = {}
    for (digest, dtext, _sql), (tid, tmpl) in zip(rows, ids):
        by_id.setdefault((tid, tmpl), {})[digest] = dtext
    merged = {k: v for k, v in by_id.items() if len(v) > 1}
    mp.diag(f'{len(merged)} templates cover more than one server digest (deliberate merges):')
    for (tid, tmpl), digests in sorted(merged.items(), key=lambda x: x[0][1]):
        mp.diag(f'  {tid} {tmpl}')
        for dtext in sorted(digests.values()):
            mp.diag(f'      server: {dtext.strip()}')


def main():
    if not os.access(mp.BIN, os.X_OK):
        mp.skip('template digest', f'{mp.BIN} is not built')
        mp.done()
    mp.need_root('template digest (a MariaDB in a namespace of its own)')
    with mp.scope():
        ns = mp.Netns('dig')
        db = mp.MariaDB(port=PORT, netns=ns)
        # events_statements_history_long only fills while the "current" consumer is on.
        db.sql("UPDATE performance_schema.setup_consumers SET ENABLED = 'YES' "
               "WHERE NAME IN ('events_statements_current', 'events_statements_history_long')",
               socket=True, db=None)
        db.sql(SETUP)
        stmts = workload()
        script = '\n;\n'.join(stmts) + '\n;\n'
        r = subprocess.run(ns.cmd(db.client_argv(extra=['--comments', '--force'])),
                           input=script, text=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE)
        mp.diag(f'{len(stmts)} statements sent; client errors: '
                f'{len([l for l in r.stderr.splitlines() if l.startswith("ERROR")])}')
        rows = history(db)

    mp.check(len(rows) >= len(stmts), 'performance_schema recorded the workload',
             f'{len(rows)} rows for {len(stmts)} statements')
    ids = templates([sql for _d, _dt, sql in rows])
    if not mp.check(len(ids) == len(rows), 'one template per recorded statement',
                    f'{len(ids)} templates for {len(rows)} statements'):
        mp.done()

    digests = {}
    splits = []
    for (digest, dtext, sql), (tid, tmpl) in zip(rows, ids):
        if SPLIT_MARK in sql:
            splits.append((dtext, tmpl))
            continue
        digests.setdefault(digest, {}).setdefault(tid, []).append((sql, tmpl, dtext))
    mp.check(len(digests) >= 40, 'at least 40 distinct server digests', f'{len(digests)}')
    bad = {d: t for d, t in digests.items() if len(t) > 1}
    for d, t in bad.items():
        mp.diag(f'server digest {d}: {next(iter(t.values()))[0][2]}')
        for tid, lst in t.items():
            mp.diag(f'  {tid} {lst[0][1]}    <- {lst[0][0]!r}')
    mp.check(not bad, f'same server digest -> same template id ({len(digests)} digests, '
                      f'{len(rows) - len(splits)} statements)', f'{len(bad)} digests split')
    report_merges(rows, ids)
    mp.diag('deliberate splits (the server merges, we keep apart):')
    for dtext, tmpl in splits:
        mp.diag(f'  server: {dtext.strip()}  ours: {tmpl}')
    mp.check(len({t for _d, t in splits}) == 2, 'hints are kept in the template')
    mp.done()


if __name__ == '__main__':
    main()
