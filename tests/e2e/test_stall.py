#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The agent stalled (SIGSTOP for 3 s) under a steady load: the kernel keeps capturing into
the ring buffer, and when the agent runs again each statement lands in the period it completed
in, by capture time — no spike followed by "idle" periods (before: one period claimed 69,800
statements and the next four had 0 packets). The reports say how long the agent was stalled
(`capture.stalled_ms`), and the total equals the server's own Com_select.
"""
import signal
import statistics
import time

import mp

PORT = 3314
PERIOD_MS = 1000
RUN_S = 9.0

# A steady load: about 1,000 statements a second for RUN_S seconds, paced by the clock.
LOAD = r'''
import sys, time, pymysql
c = pymysql.connect(host='127.0.0.1', port=int(sys.argv[1]), user='mp', password='mp',
                    database='mp')
cur = c.cursor()
end = time.time() + float(sys.argv[2])
i = 0
while time.time() < end:
    cur.execute('SELECT %d' % i)
    cur.fetchall()
    i += 1
    if i % 50 == 0:
        time.sleep(max(0.0, 0.05 - (time.time() % 0.05)))
c.close()
print(i)
'''


def main():
    mp.need_root('namespaces, BPF')
    ns = mp.Netns('stall')
    db = mp.MariaDB(port=PORT, netns=ns)
    agent = mp.Agent(['-p', str(PORT), '-o', 'report', '--report_period_ms', str(PERIOD_MS)],
                     netns=ns)
    agent.wait_ready()
    before = mp.global_status(db, 'Com_select')
    t0 = time.time()
    load = mp.spawn(ns.cmd(['/usr/bin/python3', '-c', LOAD, str(PORT), str(RUN_S)]),
                    what='load', stdout=mp.subprocess.PIPE, text=True)
    mp.wait_until(lambda: time.time() - t0 >= 2.5, timeout=5, every=0.05, what='load running')
    agent.proc.send_signal(signal.SIGSTOP)
    stop_at = time.time()
    mp.wait_until(lambda: time.time() - stop_at >= 3.0, timeout=5, every=0.05,
                  what='three seconds stopped')
    agent.proc.send_signal(signal.SIGCONT)
    sent = int(load.communicate(timeout=60)[0].strip() or 0)
    t1 = time.time()
    server = mp.global_status(db, 'Com_select') - before
    mp.wait_until(lambda: mp.template_count(agent.json_lines(), 'SELECT ?') >= server,
                  timeout=20, every=0.1, what='the agent to count every statement')
    rc = agent.stop()
    reports = agent.json_lines()
    got = mp.template_count(reports, 'SELECT ?')
    mp.check(server == sent and got == server,
             f'every statement counted once: agent {got}, server {server}, client {sent}')
    mp.check(rc == 0, 'agent exits 0 on SIGTERM', f'rc={rc}')
    # Periods wholly inside the load: each should hold about a second of it.
    inside = [r for r in reports if r['period_start_ms'] >= t0 * 1000 + 200 and
              r['period_end_ms'] <= t1 * 1000 - 200]
    counts = [mp.template_count([r], 'SELECT ?') for r in inside]
    mp.diag(f'statements per period inside the load: {counts}')
    med = statistics.median(counts) if counts else 0
    mp.check(len(counts) >= 5 and min(counts) > 0 and max(counts) <= 2 * med,
             'no spike and no empty period across the stall', str(counts))
    stalled = [r['capture']['stalled_ms'] for r in reports]
    mp.diag(f'stalled_ms per report: {stalled}')
    mp.check(2500 <= sum(stalled) <= 4500 and max(stalled) >= 500,
             'the reports say the agent was stalled about 3 s', str(stalled))
    late = sum(r['capture']['late'] for r in reports)
    mp.check(late <= got // 100, 'statements out of their period stay rare (capture.late)',
             f'{late} of {got}')
    mp.check(all(r['capture']['dropped'] == 0 for r in reports),
             'the ring buffer held the backlog (no drops)')
    mp.done()


if __name__ == '__main__':
    main()
