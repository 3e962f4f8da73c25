#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Sink throughput: query events to Kafka (librdkafka's mock cluster, in process) and metrics
rows to a private clickhouse-server (Debian's 18.16, started here on kernel-chosen ports), with
build/bench/sink_speed. Prints a Markdown section with the command and the figures."""
import json
import os
import socket
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'e2e'))
import clickhouse  # noqa: E402  (the tests' private server: its own dir, removed at exit)

SPEED = os.path.join(ROOT, 'build/bench/sink_speed')
EVENTS = int(os.environ.get('MP_BENCH_EVENTS', '1000000'))
ROWS = int(os.environ.get('MP_BENCH_CH_ROWS', '200000'))


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


def main():
    ch = clickhouse.ClickHouse(http_port=free_port(), tcp_port=free_port())
    argv = [SPEED, str(EVENTS), ch.url, str(ROWS)]
    r = subprocess.run(argv, stdout=subprocess.PIPE, text=True, check=True)
    res = json.loads(r.stdout)
    ch.stop()
    k, c = res['kafka'], res['clickhouse']
    print('## Sinks (bench/bench_sinks.py)\n')
    print(f'Command: `build/bench/sink_speed {EVENTS} http://127.0.0.1:PORT/ {ROWS}` against '
          'librdkafka\'s mock cluster in the same process and a clickhouse-server 18.16 on '
          'this machine.\n')
    print('| sink | measured | per second (wall) | per CPU second |')
    print('|---|---|---|---|')
    print(f'| Kafka, query events ({k["bytes"]} B JSON, every delivery report awaited) | '
          f'{k["events"]:,} events in {k["wall_s"]:.2f} s, {k["cpu_s"]:.2f} CPU s (producer and '
          f'mock broker) | {k["per_s"]:,.0f} | {k["per_cpu_s"]:,.0f} |')
    print(f'| ClickHouse, metrics rows (batches of {c["batch_rows"]}, {c["batch_bytes"]:,} B '
          f'each) | {c["rows"]:,} rows in {c["wall_s"]:.2f} s, agent side {c["agent_cpu_s"]:.2f} '
          f'CPU s | {c["per_s"]:,.0f} | {c["rows"] / max(c["agent_cpu_s"], 1e-6):,.0f} (agent) |')
    print('\nThe Kafka figure includes the mock broker\'s work in the same process; against a '
          'real broker on another host the agent pays the producer side only. The ClickHouse '
          'figure is one insert in flight, as the sink sends: the server\'s time per insert '
          'bounds it, not the agent.\n')


if __name__ == '__main__':
    main()
