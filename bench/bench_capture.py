#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Capture benchmarks: BPF cost per packet, ring-buffer drain rate, and drops while MariaDB
serves sysbench oltp_point_select flat out with the agent attached. Prints a Markdown section."""
import json
import os
import re
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tests', 'e2e'))
import mp  # noqa: E402

PORT = 3320
RUNS = 3


def sysbench(netns, args):
    base = ['sysbench', 'oltp_point_select', '--db-driver=mysql', '--mysql-host=127.0.0.1',
            f'--mysql-port={PORT}', '--mysql-user=mp', '--mysql-password=mp', '--mysql-db=mp',
            '--tables=1', '--table-size=10000']
    r = subprocess.run(netns.cmd(base + args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True)
    if r.returncode != 0:
        raise RuntimeError(r.stdout[-1000:])
    return r.stdout


def qps(out):
    m = re.search(r'queries:\s+\d+\s+\(([\d.]+) per sec', out)
    return float(m.group(1)) if m else 0.0


def main():
    cost = [json.loads(subprocess.check_output([os.path.join(mp.ROOT, 'build/bench/capture_cost')],
                                               text=True)) for _ in range(RUNS)]
    med = {k: statistics.median(c[k] for c in cost) for k in cost[0]}
    out = ['## Capture (bench/bench_capture.py)\n',
           '### BPF cost per packet\n',
           f'`build/bench/capture_cost` (BPF_PROG_TEST_RUN, repeat {cost[0]["repeat"]}, '
           f'median of {RUNS} runs; the 100 B and 1400 B cases run while a second thread drains '
           'the ring buffer):\n',
           '| packet | ns per packet |', '|---|---|',
           f'| unrelated port (TC) | {med["ns_other_port"]:.0f} |',
           f'| MySQL port, pure ACK (TC) | {med["ns_pure_ack"]:.0f} |',
           f'| MySQL port, 100 B payload, kept (TC) | {med["ns_kept_100B"]:.0f} |',
           f'| MySQL port, 100 B payload, kept (XDP) | {med["ns_kept_100B_xdp"]:.0f} |',
           f'| MySQL port, 1400 B payload, kept (TC) | {med["ns_kept_1400B"]:.0f} |',
           '',
           f'Ring-buffer drain, one userspace core: **{med["drained_per_s"]:.0f} records/s** '
           f'(records kept {med["records_kept"]:.0f}, drained {med["records_drained"]:.0f}, '
           f'dropped {med["records_dropped"]:.0f}). The test-run harness itself accounts for '
           'roughly the unrelated-port figure.\n']

    rows = []
    with mp.Netns('bench') as ns:
        db = mp.MariaDB(port=PORT, netns=ns)
        try:
            sysbench(ns, ['prepare'])
            for mode in ('none', 'tc', 'xdp', 'pcap'):
                agent = None
                if mode != 'none':
                    agent = mp.Agent(['-p', str(PORT), '--mode', mode, '-o', 'none'], netns=ns)
                    agent.wait_ready()
                res = sysbench(ns, ['run', '--threads=8', '--time=20'])
                line = ''
                if agent:
                    agent.stop()
                    line = next((l for l in reversed(agent.err) if 'capture:' in l), '')
                cnt = dict(re.findall(r'(\w+)=(\d+)', line))
                rows.append((mode, qps(res), cnt.get('kept', '-'), cnt.get('dropped', '-')))
        finally:
            db.stop()
    out += ['### Drops under load\n',
            'MariaDB in a namespace on lo; `sysbench oltp_point_select --threads=8 --time=20` '
            f'(1 table, 10,000 rows) with `build/mysqlprobe -p {PORT} --mode MODE -o none` '
            'attached (capture, reassembly and decoding; no output):\n',
            '| agent | queries/s | segments kept | dropped |', '|---|---|---|---|']
    for mode, q, kept, dropped in rows:
        out.append(f'| {mode} | {q:.0f} | {kept} | {dropped} |')
    print('\n'.join(out) + '\n')


if __name__ == '__main__':
    main()
