#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Sink throughput: query events to Kafka (librdkafka's mock cluster, in its own process) and metrics
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
MOCK = os.path.join(ROOT, 'build/tests/kafka_mock')
EVENTS = int(os.environ.get('MP_BENCH_EVENTS', '1000000'))
ROWS = int(os.environ.get('MP_BENCH_CH_ROWS', '200000'))
RUNS = int(os.environ.get('MP_BENCH_KAFKA_RUNS', '3'))


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


def speed(argv, env_extra=None):
    env = dict(os.environ, **(env_extra or {}))
    r = subprocess.run([SPEED] + argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                       text=True, check=True, env=env)
    return json.loads(r.stdout)


def kafka_runs(brokers):
    env = {'MP_KAFKA_BROKERS': brokers}
    runs = sorted((speed([str(EVENTS)], env)['kafka'] for _ in range(RUNS)),
                  key=lambda k: k['per_cpu_s'])
    return runs[len(runs) // 2]


def main():
    # The broker in its own process: the CPU measured is the producer's, as on an agent.
    mock = subprocess.Popen([MOCK, '-p', '4', 'events', 'stats'], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        brokers = mock.stdout.readline().strip()
        k = kafka_runs(brokers)
    finally:
        mock.stdin.close()
        mock.wait(timeout=30)
    ch = clickhouse.ClickHouse(http_port=free_port(), tcp_port=free_port())
    try:
        c = speed(['1000', ch.url, str(ROWS)])['clickhouse']
    finally:
        ch.stop()
    print('## Sinks (bench/bench_sinks.py)\n')
    print(f'Kafka: `MP_KAFKA_BROKERS=HOST:PORT build/bench/sink_speed {EVENTS}` against '
          '`build/tests/kafka_mock -p 4 events stats` (librdkafka\'s mock cluster) in another '
          f'process, so the CPU is the producer\'s alone; median of {RUNS} runs by CPU. '
          f'ClickHouse: `build/bench/sink_speed 1000 http://127.0.0.1:PORT/ {ROWS}` against a '
          'clickhouse-server 18.16 on this machine.\n')
    print('| sink | measured | per second (wall) | per CPU second |')
    print('|---|---|---|---|')
    print(f'| Kafka, query events ({k["bytes"]} B JSON, every delivery report awaited) | '
          f'{k["events"]:,} events in {k["wall_s"]:.2f} s, {k["cpu_s"]:.2f} CPU s (producer) '
          f'| {k["per_s"]:,.0f} | {k["per_cpu_s"]:,.0f} |')
    print(f'| ClickHouse, metrics rows (batches of {c["batch_rows"]}, {c["batch_bytes"]:,} B '
          f'each) | {c["rows"]:,} rows in {c["wall_s"]:.2f} s, agent side {c["agent_cpu_s"]:.2f} '
          f'CPU s | {c["per_s"]:,.0f} | {c["rows"] / max(c["agent_cpu_s"], 1e-6):,.0f} (agent) |')
    print(f'\nGoal (issue 15): >= 500,000 events/s per core to Kafka: '
          f'{"met" if k["per_cpu_s"] >= 500000 else "NOT met"} ({k["per_cpu_s"]:,.0f} per CPU '
          'second of the producer). The ClickHouse figure is one insert in flight, as '
          'the sink sends: the server\'s time per insert bounds it, not the agent.\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
