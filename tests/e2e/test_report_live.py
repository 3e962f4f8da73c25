#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The slave end to end, live: a real MariaDB, the agent capturing, websocket clients on
/collector (snappy and ?format=json, one joining late), the HTTP API (/config/update, /metrics
through promtool, /status, /healthz, /cluster/*, the bearer token) and the final report on
SIGTERM. Everything runs in a network namespace of its own."""
import json
import shutil
import signal
import subprocess

import mp

PORT = 3317
HTTP = 8667
TOKEN = 's3cret-token-xyz'
PERIOD_MS = 1000


def traffic(tag, n):
    """n statements of four templates, one of them failing; returns the number sent."""
    import pymysql
    c = pymysql.connect(host='127.0.0.1', port=PORT, user='mp', password='mp', database='mp',
                        autocommit=True)
    sent = 0
    with c.cursor() as cur:
        for i in range(n):
            cur.execute(f'SELECT {i} AS {tag}')
            cur.execute(f"SELECT '{tag}', {i} + 1")
            cur.execute('SELECT COUNT(*) FROM t WHERE id > %s', (i,))
            try:
                cur.execute(f'SELECT * FROM no_such_{tag}')
            except pymysql.MySQLError:
                pass
            sent += 4
    c.close()
    return sent


def check_templates_resolve(col, name):
    """Every template id in a client's stats was sent to that client in this or an earlier
    report (the server tracks per client what it has sent)."""
    known, missing = set(), set()
    for _, r in col.reports:
        known.update(r['templates'])
        missing.update(row['template_id'] for row in r['stats']
                       if row['template_id'] != 'other' and row['template_id'] not in known)
    mp.check(not missing and known, f'{name}: every template id resolves',
             f'{len(missing)} unresolved, {len(known)} known')


def check_http_api():
    base = f'http://127.0.0.1:{HTTP}'
    for bad, why in (('99', 'too small'), ('3600001', 'too large'), ('abc', 'not a number'),
                     ('', 'empty')):
        st, body = mp.http_get(f'{base}/config/update?report_period_ms={bad}', token=TOKEN)
        mp.check(st == 400 and 'report_period_ms' in json.loads(body).get('error', ''),
                 f'/config/update rejects {why} with 400 and a reason', f'{st} {body}')
    st, body = mp.http_get(f'{base}/config/update?report_period_ms=500')
    mp.check(st == 401, '/config/update without the token: 401', f'{st} {body}')
    st, body = mp.http_get(f'{base}/config/update?report_period_ms=500', token='wrong')
    mp.check(st == 401, '/config/update with a wrong token: 401', f'{st} {body}')
    st, body = mp.http_get(f'{base}/healthz')
    mp.check(st == 200, '/healthz: 200', f'{st} {body}')
    st, body = mp.http_get(f'{base}/cluster/listnodes', token=TOKEN)
    mp.check(st == 409 and 'cluster' in body, '/cluster/listnodes: 409 not in a cluster',
             f'{st} {body}')
    st, body = mp.http_get(f'{base}/status')
    mp.check(st == 401, '/status without the token: 401 (it shows settings)', f'{st} {body}')
    st, body = mp.http_get(f'{base}/status', token=TOKEN)
    status = json.loads(body) if st == 200 else {}
    mp.check(st == 200 and status.get('role') == 'slave' and status.get('mode') == 'tc' and
             status.get('report_period_ms') == PERIOD_MS and 'counters' in status,
             '/status: role, mode, period, counters', body[:300])
    mp.check(TOKEN not in body and status.get('config', {}).get('http.token') == '<redacted>',
             '/status redacts the token', body[:300])
    st, body = mp.http_get(f'{base}/metrics')
    mp.check(st == 200 and 'mysqlprobe_statements_total' in body and
             'mysqlprobe_capture_segments_total{outcome="kept"}' in body and
             'mysqlprobe_server_client_queue_depth' in body,
             '/metrics: capture, decode, report and client queue series', body[:200])
    if shutil.which('promtool'):
        r = subprocess.run(['promtool', 'check', 'metrics'], input=body, text=True,
                           capture_output=True)
        mp.check(r.returncode == 0, 'promtool check metrics passes', r.stdout + r.stderr)
    else:
        mp.skip('promtool check metrics passes', 'promtool not installed (Debian prometheus)')


def check_secret_flag(agent):
    """A token given as a flag: a warning, gone from the process list, /collector guarded."""
    import websocket
    with open(f'/proc/{agent.proc.pid}/cmdline', 'rb') as f:
        cmdline = f.read().decode(errors='replace')
    mp.check(TOKEN not in cmdline and '--http.token' in cmdline,
             'a --http.token flag is overwritten in the process list', cmdline.replace('\0', ' '))
    mp.check(any('shows in the process list' in l and 'http.token_file' in l for l in agent.err),
             'and the agent warns about it, pointing to http.token_file', str(agent.err[:5]))
    try:
        websocket.create_connection(f'ws://127.0.0.1:{HTTP}/collector', timeout=10).close()
        refused = False
    except Exception:
        refused = True
    mp.check(refused, '/collector without the token is refused (reports carry SQL)')


def check_period_change(col):
    """The new period applies from the next period: report spans and arrival spacing."""
    base = f'http://127.0.0.1:{HTTP}'
    n0 = len(col.reports)
    st, body = mp.http_get(f'{base}/config/update?report_period_ms=500', token=TOKEN)
    mp.check(st == 200, '/config/update?report_period_ms=500 with the token: 200', f'{st} {body}')
    col.wait(n0 + 8, timeout=30)
    spans = [r['period_end_ms'] - r['period_start_ms'] for _, r in col.reports[n0:]]
    # The period running when the change came keeps its length; every later one is 500 ms.
    mp.check(spans[0] in (PERIOD_MS, 500), 'the period running at the change keeps its length',
             str(spans))
    mp.check(all(s == 500 for s in spans[1:]), 'later periods span 500 ms', str(spans))
    t = [a for a, _ in col.reports[n0 + 2:]]
    gaps = [b - a for a, b in zip(t, t[1:])]
    mean = sum(gaps) / len(gaps)
    mp.diag(f'arrival spacing after the change: mean {mean * 1000:.0f} ms, '
            f'min {min(gaps) * 1000:.0f}, max {max(gaps) * 1000:.0f}')
    mp.check(0.45 <= mean <= 0.55, 'reports arrive every 500 ms (mean within 10%)',
             f'{mean:.3f}')


def main():
    mp.need_root('live reports (namespace, BPF)')
    mp.enter_netns(mp.Netns('rep'))
    db = mp.MariaDB(port=PORT)
    db.sql('CREATE TABLE t (id INT PRIMARY KEY)')
    db.sql('INSERT INTO t VALUES ' + ','.join(f'({i})' for i in range(100)))
    agent = mp.Agent(['-p', str(PORT), '-o', 'events', '--report_period_ms',
                      str(PERIOD_MS), '--serverport', str(HTTP), '--http.token', TOKEN,
                      '--slowthresholdms', '50'])
    agent.wait_ready()
    check_secret_flag(agent)
    early = mp.Collector(HTTP, token=TOKEN)
    sent = traffic('a', 50)
    early.wait(2)
    late = mp.Collector(HTTP, json_format=True, token=TOKEN)
    sent += traffic('b', 50)
    db.sql('SELECT SLEEP(0.1)')
    sent += 1
    late.wait(3)
    check_http_api()
    check_period_change(early)
    # The final period: a long one, statements in it, then SIGTERM.
    mp.http_get(f'http://127.0.0.1:{HTTP}/config/update?report_period_ms=3600000',
                token=TOKEN)
    mp.poll(lambda: json.loads(mp.http_get(f'http://127.0.0.1:{HTTP}/status',
                                           token=TOKEN)[1])
            ['report_period_ms'] == 3600000, what='the long period started')
    sent += traffic('c', 25)
    mp.poll(lambda: sum('no_such_c' in l for l in agent.lines) >= 25,
            what='last events decoded')
    rc = agent.stop(signal.SIGTERM)
    mp.poll(lambda: early.closed and late.closed, what='clients closed')
    mp.check(rc == 0, 'agent exits 0 on SIGTERM', f'rc {rc}')
    events = agent.json_lines()
    mine = [e for e in events if e['command'] == 'query' and e['user'] == 'mp']
    mp.diag(f'statements sent {sent}, events {len(events)} ({len(mine)} queries by mp), '
            f'reports: early {len(early.reports)}, late {len(late.reports)}')
    mp.check(len(mine) >= sent, 'every statement sent is an event', f'{len(mine)} < {sent}')
    total = mp.report_counts(r for _, r in early.reports)
    mp.check(total == len(events), 'sum of count over all reports == events',
             f'{total} != {len(events)}')
    mp.check(early.frames == {'binary'} and late.frames == {'text'},
             'snappy binary frames by default, text frames with ?format=json',
             f'{early.frames} {late.frames}')
    last = early.reports[-1][1]
    finals = [row['count'] for row in last['stats'] if 'no_such_c' in
              json.dumps(last['templates'].get(row['template_id'], ''))]
    mp.check(last['period_end_ms'] - last['period_start_ms'] < 3600000 and finals == [25],
             'SIGTERM delivers the final partial period', json.dumps(last)[:300])
    check_templates_resolve(early, 'first client')
    check_templates_resolve(late, 'late client')
    slow = [s for _, r in early.reports for s in r['slow']]
    mp.check(any(s['sql'] == 'SELECT SLEEP(0.1)' and s['latency_us'] >= 100000 for s in slow),
             'a statement over slowthresholdms is a slow sample', str(slow)[:300])
    mp.check(all(TOKEN not in l for l in agent.err), 'the token never appears in the log')
    mp.done()


if __name__ == '__main__':
    main()
