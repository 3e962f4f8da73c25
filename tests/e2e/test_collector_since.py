#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""/collector?since=SEQ end to end: a client that disconnects for 10 periods and comes back with
since= gets every report it missed exactly once, identical to what a client connected all along
received, then the live ones; a since older than the buffer gets what is buffered and the count
of the rest (lost); a bad since is refused with 400 and a reason. Real MariaDB and agent, in a
network namespace of their own."""
import json
import socket
import threading

import mp

PORT = 3318
HTTP = 8667
PERIOD_MS = 300
BUFFER = 20


def traffic(stop):
    """Statements of a few templates until stop is set, so every period has rows."""
    import pymysql
    c = pymysql.connect(host='127.0.0.1', port=PORT, user='mp', password='mp', database='mp',
                        autocommit=True)
    i = 0
    with c.cursor() as cur:
        while not stop.wait(0.005):
            cur.execute(f'SELECT {i} AS n')
            cur.execute('SELECT COUNT(*) FROM t WHERE id > %s', (i % 50,))
            if i % 7 == 0:
                cur.execute(f"SELECT 'x{i % 5}', {i}")
            i += 1
    c.close()


def comparable(r):
    """A report without what is per client: the template texts sent along and lost."""
    return {k: v for k, v in r.items() if k not in ('templates', 'lost')}


def bad_query(query):
    """A websocket upgrade to /collector?query: (status, body)."""
    s = socket.create_connection(('127.0.0.1', HTTP), timeout=10)
    s.sendall((f'GET /collector?{query} HTTP/1.1\r\nHost: 127.0.0.1\r\n'
               'Upgrade: websocket\r\nConnection: Upgrade\r\n'
               'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n'
               '\r\n').encode())
    data = b''
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    s.close()
    head, _, body = data.decode(errors='replace').partition('\r\n\r\n')
    return int(head.split()[1]), body


# Refused upgrades, each with the parameter its reason names.
BAD = [('since=abc', 'since'), ('since=-1', 'since'), ('since=', 'since'),
       ('since=99999999999999999999', 'since'), ('since=5&started=x', 'started'),
       ('since=5&started=', 'started'), ('started=5', 'started')]


def seqs(col, start=0):
    return [r['seq'] for _, r in col.reports[start:]]


def main():
    mp.need_root('/collector since= (namespace, BPF)')
    with mp.Netns('since') as ns:
        mp.enter_netns(ns)
        db = mp.MariaDB(port=PORT)
        agent = None
        stop = threading.Event()
        gen = None
        cols = []
        try:
            db.sql('CREATE TABLE t (id INT PRIMARY KEY)')
            db.sql('INSERT INTO t VALUES ' + ','.join(f'({i})' for i in range(100)))
            agent = mp.Agent(['-p', str(PORT), '-o', 'report', '--report_period_ms',
                              str(PERIOD_MS), '--serverport', str(HTTP),
                              '--cluster.buffer_periods', str(BUFFER)])
            agent.wait_ready()
            # since=0: from the first report, however late this client connects.
            always = mp.Collector(HTTP, json_format=True, since=0)
            away = mp.Collector(HTTP)
            cols += [always, away]
            gen = threading.Thread(target=traffic, args=(stop,), daemon=True)
            gen.start()

            # The client that goes away: a few reports, then 10 periods gone.
            away.wait(3)
            away.close()
            last = away.reports[-1][1]['seq']
            mp.poll(lambda: always.reports and always.reports[-1][1]['seq'] >= last + 10,
                    what='10 periods while the client is away')
            now = always.reports[-1][1]['seq']
            back = mp.Collector(HTTP, since=last)
            cols.append(back)
            mp.poll(lambda: back.reports and back.reports[-1][1]['seq'] >= now + 3,
                    what='live reports after the replay')

            # Older than the buffer: what is buffered, and how many it can no longer have.
            mp.poll(lambda: always.reports[-1][1]['seq'] > BUFFER + 2,
                    what='more reports than the buffer holds')
            old = mp.Collector(HTTP, json_format=True, since=1)
            cols.append(old)
            old.wait(BUFFER)
            # started=: the run SEQ came from. This run's: after SEQ; another run's (the
            # node restarted and counts from 1 again): from the oldest report held.
            run = always.reports[0][1]['started_ms']
            at = always.reports[-1][1]['seq']
            this_run = mp.Collector(HTTP, json_format=True, since=at, started=run)
            prev_run = mp.Collector(HTTP, json_format=True, since=at, started=run - 1000)
            cols += [this_run, prev_run]
            this_run.wait(1)
            prev_run.wait(1)

            bad = [bad_query(q) for q, _ in BAD]
            st, metrics = mp.http_get(f'http://127.0.0.1:{HTTP}/metrics')
            st2, status = mp.http_get(f'http://127.0.0.1:{HTTP}/status')
            stop.set()
            gen.join(10)
            rc = agent.stop()
        finally:
            stop.set()
            for c in cols:
                c.close()
            if agent:
                agent.stop()
            db.stop()

    mp.check(rc == 0, 'agent exits 0', f'rc {rc}')
    a = [r for _, r in always.reports]
    s = seqs(always)
    mp.diag(f'continuous client: seqs {s[0]}..{s[-1]}; away after {last}; '
            f'back got {seqs(back)[:3]}...{seqs(back)[-1]}')
    mp.check(s == list(range(1, len(s) + 1)),
             'seq is +1 per report from the start (1 is the first)', str(s[:20]))
    mp.check(all(r['term'] == 0 for r in a), 'term is 0 on a lone slave')
    mp.check(all(r['outputs'].get('stdout', {}).get('readers') == 1 for r in a[1:]) and
             # (a report closed before any client connected has no collector section)
             all(r['outputs'].get('collector', {}).get('dropped', 0) == 0 for r in a),
             'outputs: stdout and collector listed, nothing dropped',
             json.dumps(a[-1].get('outputs')))

    b = [r for _, r in back.reports]
    bs = [r['seq'] for r in b]
    mp.check(bs == list(range(last + 1, last + 1 + len(bs))),
             'since=: every missed seq exactly once, then live, no gap or duplicate at the seam',
             str(bs))
    mp.check(len(bs) >= 13, 'replayed at least the 10 missed periods, then live ones',
             str(len(bs)))
    mp.check(all('lost' not in r for r in b), 'nothing lost within the buffer')
    by_seq = {r['seq']: r for r in a}
    same = [r['seq'] for r in b if r['seq'] in by_seq and comparable(r) ==
            comparable(by_seq[r['seq']])]
    common = [r['seq'] for r in b if r['seq'] in by_seq]
    mp.check(common and same == common,
             'each replayed and live report is identical to the continuous client\'s',
             f'{len(same)} of {len(common)} identical')
    mp.check(sum(len(r['stats']) for r in b[:10]) > 0, 'the replayed reports carry rows')
    known, missing = set(), set()
    for r in b:
        known.update(r['templates'])
        missing.update(row['template_id'] for row in r['stats'] if row['template_id']
                       not in known and row['template_id'] != 'other')
    mp.check(not missing, 'a replayed report carries every template text the client needs',
             str(missing))

    o = [r for _, r in old.reports]
    first = o[0]
    mp.diag(f'since=1 client: first seq {first["seq"]}, lost {first.get("lost")}')
    mp.check(first['seq'] > 2 and first.get('lost') == first['seq'] - 2 and
             all('lost' not in r for r in o[1:]),
             'a since older than the buffer: the buffered reports, the first with lost: N',
             json.dumps({k: first.get(k) for k in ('seq', 'lost')}))
    mp.check([r['seq'] for r in o] == list(range(first['seq'], first['seq'] + len(o))),
             'then every later seq once', str([r['seq'] for r in o]))

    for (code, body), (q, param) in zip(bad, BAD):
        mp.check(code == 400 and param in json.loads(body).get('error', ''),
                 f'{q}: 400 naming {param}', f'{code} {body}')
    mp.check(this_run.reports[0][1]['seq'] == at + 1,
             'since=SEQ&started= of this run: from SEQ + 1', f'{this_run.reports[0][1]["seq"]} {at}')
    f = prev_run.reports[0][1]
    mp.check(f['seq'] <= at + 1 - BUFFER + 1 and f.get('lost') == f['seq'] - 1,
             'since=SEQ&started= of another run: from the oldest report held (an earlier run\'s '
             'SEQ says nothing about this run)', json.dumps({k: f.get(k) for k in ('seq', 'lost')}) +
             f' at {at}, buffer {BUFFER}')
    mp.check(st == 200 and 'mysqlprobe_output_reports_dropped_total{output="collector"}' in
             metrics and 'mysqlprobe_report_buffer_reports' in metrics,
             '/metrics: per-output drops and the buffer', metrics[-500:])
    stj = json.loads(status) if st2 == 200 else {}
    mp.check(stj.get('buffer', {}).get('reports') == BUFFER and stj.get('seq', 0) > BUFFER,
             '/status: seq and buffer', status[:300])

    # stdout got the same reports (every template text in each).
    out = {r['seq']: r for r in agent.json_lines() if 'seq' in r}
    diff = [q for q in by_seq if q in out and comparable(out[q]) != comparable(by_seq[q])]
    mp.check(out and not diff and all(q in out for q in by_seq),
             'stdout (-o report) printed the same reports', f'{len(out)} lines, differ {diff[:5]}')
    mp.done()


if __name__ == '__main__':
    main()
