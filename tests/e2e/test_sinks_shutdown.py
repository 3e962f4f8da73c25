#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Every output at once, and SIGTERM under load: an agent with stdout, a /collector client, the
ClickHouse sink (clickhouse-server in the namespace) and the Kafka sink (librdkafka's mock
cluster) is stopped while sysbench still runs. Each output receives the final, partial period,
and each holds the same sums per (template, command) as the reports on stdout: nothing counted
is lost on the way out."""
import os
import shutil
import signal
import time

import clickhouse
import mp
import sinkload
import test_sink_clickhouse as chtest
import test_sink_kafka as kafkatest

SECONDS = 20


def main():
    mp.need_root('sinks at shutdown (namespace, BPF)')
    if not shutil.which('clickhouse-server') or not os.path.exists(kafkatest.MOCK) or \
            not shutil.which('kcat'):
        mp.skip('sinks at shutdown', 'needs clickhouse-server, kcat and build/tests/kafka_mock')
        mp.done()
    host = sinkload.Host('sht')
    ch = clickhouse.ClickHouse(netns=host.ns, http_port=chtest.CH_HTTP, tcp_port=9000)
    _, bs = kafkatest.broker(host.ns)
    agent = mp.Agent(chtest.agent_args(ch.url, ['--sinks.kafka.brokers', bs]), netns=host.ns)
    agent.wait_ready()
    col = mp.Collector(sinkload.HTTP, json_format=True)
    sb = host.sysbench(SECONDS)
    t0 = time.monotonic()
    mp.poll(lambda: len(agent.json_lines()) >= 5, timeout=30, what='five periods')
    t1 = time.monotonic()
    rc = agent.stop(signal.SIGTERM)
    mp.diag(f'five periods after {t1 - t0:.1f} s, the agent stopped in {time.monotonic() - t1:.1f} s')
    stopped_under_load = sb.poll() is None
    sb.send_signal(signal.SIGTERM)
    sb.communicate(timeout=60)
    mp.check(rc == 0 and stopped_under_load, 'SIGTERM under load: the agent exits 0',
             f'rc {rc}, sysbench still running: {stopped_under_load}')
    mp.poll(lambda: col.closed, what='the collector to see the end')
    reports = agent.json_lines()
    last = reports[-1]['seq']
    want = sinkload.report_sums(reports)
    mp.diag(f'{len(reports)} reports, {sum(want.values())} statements, last seq {last}')

    got = sinkload.report_sums([r for _, r in col.reports])
    mp.check(got == want and col.reports[-1][1]['seq'] == last,
             '/collector: the final period, and the same sums as stdout')
    got = chtest.ch_sums(ch)
    seqs = {int(s[0]) for s in ch.query('SELECT DISTINCT seq FROM mysqlprobe.metrics FINAL')}
    mp.check(got == want and last in seqs,
             f'ClickHouse: the final period (seq {last}), and the same sums as stdout',
             f'{last in seqs}, {len(got)} vs {len(want)} keys')
    msgs = kafkatest.consume(bs, kafkatest.TOPICS[0])
    kafkatest.check_stats(msgs, reports)
    mp.done()


if __name__ == '__main__':
    main()
