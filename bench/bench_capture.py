#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Kernel-side capture cost: BPF cost per packet (BPF_PROG_TEST_RUN) and the ring-buffer drain
rate. Prints a Markdown section. (Drops under live load are in bench_live.py.)"""
import json
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tests', 'e2e'))
import mp  # noqa: E402

RUNS = 3


def main():
    cost = [json.loads(subprocess.check_output([os.path.join(mp.ROOT, 'build/bench/capture_cost')],
                                               text=True)) for _ in range(RUNS)]
    med = {k: statistics.median(c[k] for c in cost) for k in cost[0]}
    out = ['## Kernel side: BPF cost per packet (bench/bench_capture.py)\n',
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

    print('\n'.join(out))


if __name__ == '__main__':
    main()
