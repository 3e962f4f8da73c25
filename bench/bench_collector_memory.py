#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Agent memory with 100 /collector clients that never read, at some 10,000 rows per period
(issue #12 item 3). Prints a Markdown section.

A MariaDB in a namespace runs 10,000 distinct templates in a loop (the statements of
tests/e2e/test_collector_memory.py; the period is long enough here to hold 10,000 rows); the
agent captures it with one reading client. After 4 periods (baseline), 100 clients upgrade to
/collector and never read; 5 periods later their effect is read, then they close and 2 periods
later RSS is read again. --before BIN measures another build the same way (without the
http.*queue_mb flags it may not know).
"""
import argparse
import os
import sys
import time

import mpbench as mb
from mpbench import mp

sys.path.insert(0, os.path.join(mb.ROOT, 'tests', 'e2e'))
import test_collector_memory as tc  # noqa: E402

PERIOD_MS = 3000
CLIENTS = 100


def parse_args():
    a = argparse.ArgumentParser(description=__doc__)
    a.add_argument('--before', help='another mysqlprobe binary to measure the same way')
    a.add_argument('--clients', type=int, default=CLIENTS)
    return a.parse_args()


def measure(binary, clients, new_flags):
    args = ['-p', str(tc.PORT), '-o', 'none', '--report_period_ms', str(PERIOD_MS),
            '--serverport', str(tc.HTTP), '--max_keys', str(2 * tc.TEMPLATES)]
    with mp.scope(), mp.Netns('benchmem') as ns:
        mp.enter_netns(ns)
        mp.MariaDB(port=tc.PORT)
        load = mp.spawn(['/usr/bin/python3', '-c', tc.WORKLOAD, str(tc.PORT),
                         str(tc.TEMPLATES)], what='workload')
        agent = mp.Agent(args, binary=binary)
        try:
            agent.wait_ready(timeout=60)
            pid = agent.proc.pid
            reader = mp.Collector(tc.HTTP)
            tc.wait_periods(reader, 4)
            rows = len(reader.reports[-1][1]['stats'])
            row = {'rows': rows, 'base_hwm': tc.status_kb(pid, 'VmHWM'),
                   'base_rss': tc.status_kb(pid, 'VmRSS')}
            silent = [tc.silent_client() for _ in range(clients)]
            # By the clock: a build that renders per client may starve the reader meanwhile.
            got0 = len(reader.reports)
            time.sleep(5 * PERIOD_MS / 1000)
            row['got'] = len(reader.reports) - got0
            row['hwm'] = tc.status_kb(pid, 'VmHWM')
            row['rss'] = tc.status_kb(pid, 'VmRSS')
            try:
                row['dropped'] = tc.metric('mysqlprobe_server_clients_dropped_total')
            except OSError:  # a server thread rendering for every client answers late
                row['dropped'] = None
            for s in silent:
                s.close()
            time.sleep(2 * PERIOD_MS / 1000)
            row['rss_after'] = tc.status_kb(pid, 'VmRSS')
            reader.close()
        finally:
            mp.stop_process(load)
            agent.stop()
    shown = os.path.relpath(binary, mb.ROOT) if binary.startswith(mb.ROOT) else binary
    row['cmd'] = mb.shell([shown] + args)
    return row


def main():
    o = parse_args()
    tc.PERIOD_MS = PERIOD_MS
    mp.need_root('namespaces, BPF')
    runs = [('this build', mb.BIN, True)]
    if o.before:
        runs.insert(0, ('before (--before)', o.before, False))
    print('## Memory with /collector clients that never read (bench/bench_collector_memory.py)\n')
    print(f'{o.clients} clients upgrade to /collector and never read (4 KiB receive buffer), '
          f'while the agent reports ~{tc.TEMPLATES} rows per {PERIOD_MS} ms period to one '
          'reading client; defaults otherwise (http.queue_mb 64, cluster.buffer_mb 64). '
          'RSS in MiB from /proc/PID/status.\n')
    print('| build | rows/period | VmHWM before clients | VmHWM with clients | VmRSS with '
          'clients | VmRSS 2 periods after they close | clients dropped | reports the reader '
          'got in the 5 periods |')
    print('|---|---|---|---|---|---|---|---|')
    cmds = []
    for name, binary, new in runs:
        r = measure(binary, o.clients, new)
        print(f"| {name} | {r['rows']} | {r['base_hwm'] // 1024} | {r['hwm'] // 1024} | "
              f"{r['rss'] // 1024} | {r['rss_after'] // 1024} | "
              f"{r['dropped'] if r['dropped'] is not None else 'n/a'} | {r['got']} of 5 |")
        cmds.append(r['cmd'])
    print('\nAgent commands (in a namespace with MariaDB on port %d):\n' % tc.PORT)
    for c in cmds:
        print(f'    {c}')
    print('\nRun: `/usr/bin/python3 bench/bench_collector_memory.py [--before OTHER_BINARY]`\n')


if __name__ == '__main__':
    main()
