#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Statements the wire showed but whose answer was not there, live and on replay:

- a `SELECT SLEEP(5)` spanning several 1 s periods is listed in `running` in every report
  that closed while it ran for longer than slowthresholdms, with its time so far, and is
  counted once, as a completed statement, in the period it ended;
- a client killed in the middle of a `SELECT SLEEP(60)`, then the agent stopped while the
  server still sleeps: one `unanswered` event with the time it waited, and
  `capture.unanswered` 1 in the final report (never in a row);
- a capture cut after a request and before its response, replayed: the request is one
  `unanswered` event.
Everything runs in a network namespace of its own against a real MariaDB."""
import json
import os
import signal
import subprocess
import time

import mp

PORT = 3319
HTTP = 8667
PERIOD_MS = 1000
SLOW_MS = 500


def running_of(reports, sql):
    return [(r, e) for r in reports for e in r.get('running', []) if e['sql'] == sql]


def check_sleep_spanning(db, col):
    sql = 'SELECT SLEEP(5)'
    db.sql(sql)
    mp.poll(lambda: any(s['sql'] == sql for _, r in col.reports for s in r['slow']),
            timeout=20, what='the sleep as a slow sample')
    reports = [r for _, r in col.reports]
    slow = [s for r in reports for s in r['slow'] if s['sql'] == sql]
    start_ms = slow[0]['ts_us'] // 1000
    end_ms = start_ms + slow[0]['latency_us'] // 1000
    # A report closing at E lists the sleep if it had run SLOW_MS by E and had not ended.
    # 20 ms either side: the boundaries are on the capture clock, the sample's on the same.
    expect = [r['seq'] for r in reports
              if start_ms + SLOW_MS + 20 <= r['period_end_ms'] <= end_ms - 20]
    listed = running_of(reports, sql)
    seqs = [r['seq'] for r, _ in listed]
    mp.diag(f'sleep {start_ms}..{end_ms}: listed as running in reports {seqs}, '
            f'expected at least {expect}')
    mp.check(len(expect) >= 3 and set(expect) <= set(seqs),
             'SELECT SLEEP(5) is in running in every period it spans past slowthresholdms',
             f'listed {seqs} expected {expect}')
    mp.check(all(start_ms + SLOW_MS - 20 <= r['period_end_ms'] <= end_ms + 20
                 for r, _ in listed),
             'and in no report closed before it was slow or after it ended', str(seqs))
    ok = all(abs(e['elapsed_us'] // 1000 - (r['period_end_ms'] - start_ms)) <= 20 and
             e['template'] == 'SELECT SLEEP(?)' and e['user'] == 'mp' and e['db'] == 'mp' and
             e['client'].startswith('127.0.0.1:') and e['ts_us'] == slow[0]['ts_us']
             for r, e in listed)
    mp.check(ok and listed, 'each listing has its time so far, template, user, db, client',
             json.dumps([e for _, e in listed])[:400])
    tid = [t for r in reports for t, text in r['templates'].items() if text == 'SELECT SLEEP(?)']
    count = sum(row['count'] for r in reports for row in r['stats']
                if row['template_id'] in tid)
    mp.check(count == 1 and len(slow) == 1,
             'and it is counted once, as one completed statement and one slow sample',
             f'count {count}, slow samples {len(slow)}')


def sleeping(db, marker):
    rows = db.sql('SELECT COUNT(*) FROM information_schema.PROCESSLIST '
                  f"WHERE INFO LIKE '%{marker}%' AND COMMAND = 'Query'", socket=True)
    return int(rows[0][0]) > 0


def check_killed_client(db, agent, col):
    sql = 'SELECT SLEEP(60) AS killed'
    cli = mp.spawn(db.client_argv() + ['-e', sql], what='mariadb client to kill',
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    mp.poll(lambda: sleeping(db, 'AS killed'), what='the server running the sleep')
    t0 = time.time()
    cli.kill()
    cli.wait()
    time.sleep(0.5)  # the wait the event reports: the agent stops while the server sleeps
    rc = agent.stop(signal.SIGTERM)
    waited = time.time() - t0
    mp.poll(lambda: col.closed, what='the collector closed')
    mp.check(rc == 0, 'agent exits 0 on SIGTERM', f'rc {rc}')
    events = [e for e in agent.json_lines() if e.get('sql') == sql]
    mp.check(len(events) == 1 and events[0]['status'] == 'unanswered',
             'a client killed mid-query: one unanswered event', json.dumps(events)[:300])
    if events:
        e = events[0]
        mp.check(500000 <= e['latency_us'] <= (waited + 5) * 1e6 and
                 e['first_byte_us'] is None and e['user'] == 'mp' and e['db'] == 'mp',
                 'with the time it waited, no first byte, user and db',
                 json.dumps(e)[:300])
    reports = [r for _, r in col.reports]
    una = sum(r['capture'].get('unanswered', 0) for r in reports)
    mp.check(una == 1, 'capture.unanswered counts it once', str(una))
    tids = {t for r in reports for t, text in r['templates'].items()
            if text == 'SELECT SLEEP(?) AS killed'}
    mp.check(not tids, 'and no row counts it (it never completed)', str(tids))


def check_replay_cut(tmp, db):
    path = os.path.join(tmp, 'cut.pcap')
    sql = 'SELECT SLEEP(3) AS cut'
    dump = mp.Tcpdump(path, [PORT])
    cli = mp.spawn(db.client_argv() + ['-e', 'SELECT 1 AS before_cut; ' + sql],
                   what='mariadb client (cut)', stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    mp.poll(lambda: sleeping(db, 'AS cut'), what='the server running the sleep')
    # The request reached the server: once tcpdump has it too, stop before the answer.
    mp.poll(lambda: b'AS cut' in mp.sh(['tcpdump', '-r', path, '-A']).stdout.encode(),
            timeout=10, what='the request in the capture')
    dump.stop()
    cli.wait(30)
    r = subprocess.run([mp.BIN, '-r', path, '-p', str(PORT), '-o', 'events'],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    mp.check(r.returncode == 0, 'replay of the cut capture exits 0', r.stderr[-300:])
    events = [json.loads(l) for l in r.stdout.splitlines() if l.startswith('{')]
    cut = [e for e in events if e['sql'] == sql]
    before = [e for e in events if e['sql'] == 'SELECT 1 AS before_cut']
    mp.check(len(cut) == 1 and cut[0]['status'] == 'unanswered' and
             len(before) == 1 and before[0]['status'] == 'ok',
             'a replay cut before a response: unanswered for it, ok for the one before',
             json.dumps(events)[:400])


def main():
    mp.need_root('unanswered and running statements (namespace, BPF)')
    mp.enter_netns(mp.Netns('una'))
    tmp = mp.tempdir('mp-una-')
    db = mp.MariaDB(port=PORT)
    with mp.case('live: running and unanswered'):
        agent = mp.Agent(['-p', str(PORT), '-o', 'events', '--report_period_ms', str(PERIOD_MS),
                          '--serverport', str(HTTP), '--slowthresholdms', str(SLOW_MS)])
        agent.wait_ready()
        col = mp.Collector(HTTP, json_format=True)
        check_sleep_spanning(db, col)
        check_killed_client(db, agent, col)
    with mp.case('replay cut before a response'):
        check_replay_cut(tmp, db)
    mp.done()


if __name__ == '__main__':
    main()
