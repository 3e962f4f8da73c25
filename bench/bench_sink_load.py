#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Capture completeness while each sink is on: one namespace with MariaDB and sysbench
oltp_read_write (prepared statements), the agent in tc mode with no sink, with the ClickHouse
sink (clickhouse-server 18.16 in the namespace), and with the Kafka sink sending stats and one
message per statement (librdkafka's mock cluster in the namespace). For each: the agent's
executes against the server's Com_stmt_execute over the run, capture drops and gaps, the agent's
CPU per statement, and what the sink delivered. Prints a Markdown section."""
import argparse
import os
import shutil
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'e2e'))
import clickhouse  # noqa: E402
import mp  # noqa: E402
import sinkload  # noqa: E402
import test_sink_clickhouse as chtest  # noqa: E402
import test_sink_kafka as kafkatest  # noqa: E402


def cpu_s(pid):
    """utime + stime of a process, in seconds."""
    with open(f'/proc/{pid}/stat') as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def run(host, name, extra, seconds, delivered):
    agent = mp.Agent(['-p', str(sinkload.DB_PORT), '-o', 'report', '--report_period_ms', '1000',
                      '--serverport', str(sinkload.HTTP)] + extra, netns=host.ns)
    agent.wait_ready()
    s0 = host.status()
    c0 = cpu_s(agent.proc.pid)
    host.sysbench(seconds).communicate(timeout=seconds + 120)
    s1 = host.status()
    # The statements' last period closes within one period; let the sink catch up.
    m = mp.poll(lambda: (lambda m: m if delivered(m) is not None else None)(host.metrics()),
                timeout=60, every=1.5, what=f'{name}: delivery')
    cpu = cpu_s(agent.proc.pid) - c0
    agent.stop()
    reports = agent.json_lines()
    cmds = sinkload.command_sums(reports)
    server = s1['Com_stmt_execute'] - s0['Com_stmt_execute']
    total = sum(cmds.values())
    cap = {k: sum(r['capture'].get(k, 0) for r in reports) for k in ('dropped', 'gaps')}
    return {'name': name, 'executes': cmds['execute'], 'server': server,
            'complete': 100.0 * cmds['execute'] / server if server else 0.0,
            'dropped': cap['dropped'], 'gaps': cap['gaps'], 'statements': total,
            'us_per_stmt': 1e6 * cpu / total if total else 0.0, 'sink': delivered(m) or '-'}


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--seconds', type=int, default=10)
    a = ap.parse_args()
    if os.geteuid() != 0 or not shutil.which('clickhouse-server') or \
            not os.path.exists(kafkatest.MOCK):
        print('bench_sink_load: needs root, clickhouse-server and build/tests/kafka_mock',
              file=sys.stderr)
        return 1
    rows = []
    try:
        host = sinkload.Host('bsl')
        ch = clickhouse.ClickHouse(netns=host.ns, http_port=chtest.CH_HTTP, tcp_port=9000)
        _, bs = kafkatest.broker(host.ns)

        def no_sink(m):
            return ''

        last = {}

        def ch_rows(m):
            # Settled: rows acknowledged, nothing spooled, and no change since the last look.
            ok = m.get('mysqlprobe_sink_clickhouse_rows_total', 0)
            settled = ok and not m.get('mysqlprobe_sink_clickhouse_spool_rows', 0) and \
                last.get('ok') == ok
            last['ok'] = ok
            lost = m.get('mysqlprobe_sink_clickhouse_dropped_rows_total', 0)
            return f'{ok:,.0f} rows acknowledged, {lost:,.0f} lost' if settled else None

        def kafka_msgs(m):
            k = 'mysqlprobe_sink_kafka_messages_total{kind="events",outcome="%s"}'
            d, p = m.get(k % 'delivered', 0), m.get(k % 'produced', 0)
            if not p or d < p or m.get('mysqlprobe_sink_kafka_queued', 1):
                return None
            return f'{d:,.0f} of {p:,.0f} event messages delivered'

        rows.append(run(host, 'no sink', [], a.seconds, no_sink))
        rows.append(run(host, 'ClickHouse', ['--sinks.clickhouse.url', ch.url], a.seconds,
                        ch_rows))
        rows.append(run(host, 'Kafka, stats and events', ['--sinks.kafka.brokers', bs,
                                                          '--sinks.kafka.events=true'],
                        a.seconds, kafka_msgs))
    finally:
        mp.cleanup()
    print('## Capture completeness with each sink on (bench/bench_sink_load.py)\n')
    print(f'Command: `/usr/bin/python3 bench/bench_sink_load.py --seconds {a.seconds}`: '
          'sysbench oltp_read_write, 4 threads, prepared statements, agent in tc mode, 1 s '
          'periods; the sink\'s server in the same namespace.\n')
    print('| outputs | executes (agent / server) | complete | dropped | gaps | agent CPU per '
          'statement | sink |')
    print('|---|---:|---:|---:|---:|---:|---|')
    for r in rows:
        print(f'| {r["name"]} | {r["executes"]:,} / {r["server"]:,} | {r["complete"]:.3f}% | '
              f'{r["dropped"]} | {r["gaps"]} | {r["us_per_stmt"]:.2f} µs | {r["sink"]} |')
    print()
    return 0


if __name__ == '__main__':
    sys.exit(main())
