#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Runs build/bench/flow_bench [rounds [workers]] and prints a Markdown section to stdout."""
import json
import os
import platform
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    rounds = sys.argv[1] if len(sys.argv) > 1 else '3000'
    workers = sys.argv[2] if len(sys.argv) > 2 else '2'
    binary = os.path.join('build', 'bench', 'flow_bench')
    cmd = [binary, rounds, workers]
    if not os.access(os.path.join(ROOT, binary), os.X_OK):
        sys.stderr.write(f'bench_flow: {binary} missing: run make bench-build first\n')
        return 1
    out = subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.PIPE, text=True).stdout
    r = json.loads(out.strip().splitlines()[-1])
    cpu = platform.processor() or platform.machine()
    print('## Flow table (TCP reassembly)\n')
    print(f'Command: `{" ".join(cmd)}` ({cpu}, {os.cpu_count()} CPUs on the host; '
          'the feed rows run on one core)\n')
    print('| measure | value |')
    print('|---|---|')
    print(f'| request/response feed, {r["conns"]} connections, 3 segments per round '
          f'| {r["seg_per_s"] / 1e6:.2f} M segments/s ({r["segments"]} segments in '
          f'{r["seconds"]:.3f} s) |')
    print(f'| same, 1 % of responses reordered | {r["reorder_seg_per_s"] / 1e6:.2f} M segments/s |')
    print(f'| table memory growth in the steady state | {r["steady_mem_growth"]} B '
          f'(reordered: {r["reorder_mem_growth"]} B) |')
    print(f'| memory per tracked connection ({r["mem_conns"]} open) | '
          f'{r["bytes_per_conn"]:.0f} B (flow {r["flow_bytes"]:.0f} B + bucket share; '
          f'RSS {r["rss_bytes_per_conn"]:.0f} B) |')
    print(f'| {r["offered"]} connections offered, max_connections {r["max_connections"]} | '
          f'{r["active"]} tracked, {r["table_full"]} segments refused (table_full) |')
    print(f'| out-of-order buffers, one hole per connection | {r["ooo_mem"]} B held of '
          f'{r["max_ooo_total"]} B cap, {r["gaps_overflow"]} gaps forced |')
    print(f'| table memory / bound | {r["table_mem"]} B / {r["mem_bound"]} B: '
          f'{"within" if r["within_bounds"] else "OVER"} |')
    print(f'| routed through {r["pool_workers"]} workers (copy + queue + feed), drained | '
          f'{r["pool_seg_per_s"] / 1e6:.2f} M segments/s ({r["pool_segments"]} segments, '
          f'{r["pool_waits"]} router waits for a full queue) |')
    print()
    return 0 if r['within_bounds'] else 1


if __name__ == '__main__':
    sys.exit(main())
