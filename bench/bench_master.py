#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The master's merge path: build/bench/merge_bench with 100 slaves x 10,000 rows per period,
once with glibc's default malloc settings and once with the trim and mmap thresholds raised
(the reader keeps its buffers up to a bound, larger ones are freed per message). Prints a
Markdown section."""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, 'build/bench/merge_bench')
ARGS = ['--slaves', '100', '--rows', '10000', '--periods', '2']
TUNED = ('glibc.malloc.trim_threshold=1073741824:glibc.malloc.top_pad=268435456:'
         'glibc.malloc.mmap_threshold=1073741824')
GOAL = 1_000_000


def run(env_extra):
    env = dict(os.environ, **env_extra)
    r = subprocess.run([BENCH] + ARGS, stdout=subprocess.PIPE, text=True, check=True, env=env)
    return json.loads(r.stdout)


def main():
    if not os.access(BENCH, os.X_OK):
        print(f'bench_master: {BENCH} is not built (make bench-build)', file=sys.stderr)
        return 1
    runs = [('default malloc', '', run({})),
            ('raised malloc thresholds', f'GLIBC_TUNABLES={TUNED} ', run({'GLIBC_TUNABLES': TUNED}))]
    out = ['## Master: merging slaves\' reports (bench/bench_master.py)', '',
           'One core does what a master does with each slave\'s message, through the master\'s '
           'own reader: snappy-uncompress, report_msg_parse (simdjson On-Demand through lib/jpull: '
           'the whole message read and checked into flat rows), merge_offer (each row straight '
           'into the period\'s aggregator); then emits the merged period. 100 simulated slaves each send 10,000 rows per period (the same keys on every '
           'slave, so the merged period has 10,000 rows); the slaves\' side (building and '
           'writing their reports) is not timed. CPU time of the process (the machine is shared).',
           '']
    for name, prefix, r in runs:
        out += ['```', f'{prefix}build/bench/merge_bench {" ".join(ARGS)}', '```', '',
                f'| {name} | snappy ms | parse ms | merge ms | emit ms | rows merged/s | '
                'CPU per period | bytes per slave per period (snappy / JSON) | peak RSS MiB |',
                '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
                f'| {r["slaves"]} x {r["rows"]} rows x {r["periods"]} periods | '
                f'{r["cpu_ms"]["snappy"]:,.0f} | {r["cpu_ms"]["parse"]:,.0f} | '
                f'{r["cpu_ms"]["merge"]:,.0f} | {r["cpu_ms"]["emit"]:,.0f} | '
                f'{r["rows_per_s"]:,.0f} | {r["period_cpu_ms"] / 1000:.2f} s | '
                f'{r["bytes_per_slave"]:,} / {r["json_bytes_per_slave"]:,} '
                f'(first period, with texts: {r["bytes_per_slave_first"]:,}) | '
                f'{r["vm_hwm_mib"]:.0f} |', '']
    best = max(r['rows_per_s'] for _, _, r in runs)
    share = max(r['cpu_ms']['parse'] / sum(r['cpu_ms'].values()) for _, _, r in runs)
    merge = max(r['cpu_ms']['merge'] / sum(r['cpu_ms'].values()) for _, _, r in runs)
    out += [f'Goal: >= {GOAL:,} rows merged/s per core: '
            f'{"met" if best >= GOAL else "not met"} ({best:,.0f}). Reading a message '
            f'(report_msg_parse, snappy apart) is {share:.0%} of the time, merging into the '
            f'period {merge:.0%}.', '']
    print('\n'.join(out))
    return 0


if __name__ == '__main__':
    sys.exit(main())
