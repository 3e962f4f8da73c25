#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Every output at once, and SIGTERM under load: an agent with stdout, a /collector client, the
ClickHouse sink (clickhouse-server in the namespace), the Kafka sink (librdkafka's mock
cluster) and the pusher (to a mysqlprobe master's /push in the namespace) is stopped while
sysbench still runs. Each output receives the final, partial period, and each holds the same
sums per (template, command) as the reports on stdout: nothing counted is lost on the way out."""
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
MASTER = sinkload.HTTP + 1
TOKEN = 'sinks-shutdown-token'


def main():
    mp.need_root('sinks at shutdown (namespace, BPF)')
    if not shutil.which('clickhouse-server') or not os.path.exists(kafkatest.MOCK) or \
            not shutil.which('kcat'):
        mp.skip('sinks at shutdown', 'needs clickhouse-server, kcat and build/tests/kafka_mock')
        mp.done()
    host = sinkload.Host('sht')
    ch = clickhouse.ClickHouse(netns=host.ns, http_port=chtest.CH_HTTP, tcp_port=9000)
    _, bs = kafkatest.broker(host.ns)
    tmp = mp.tempdir()
    token = os.path.join(tmp, 'cluster.token')
    with open(token, 'w') as f:
        f.write(TOKEN + '\n')
    os.chmod(token, 0o600)
    # The pusher's target: a master that merges what it is pushed (a lone master, no slaves).
    master = mp.Agent(['--slave=false', '-o', 'report', '--report_period_ms', '1000',
                       '--serverport', str(MASTER), '--cluster.token_file', token,
                       '--cluster.state_file', os.path.join(tmp, 'state')], netns=host.ns)
    master.wait_ready()
    agent = mp.Agent(chtest.agent_args(ch.url, [
        '--sinks.kafka.brokers', bs, '--pusher.servers', f'127.0.0.1:{MASTER}',
        '--pusher.path', '/push', '--cluster.token_file', token]), netns=host.ns)
    agent.wait_ready()
    col = mp.Collector(sinkload.HTTP, json_format=True, token=TOKEN)
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

    # The master emits a period merge_wait_ms after its end (late reports after that): its
    # reports, late ones included, add up to the slave's once the final seq is in one.
    node = reports[-1]['node']

    def merged_last():
        return any(r.get('nodes', {}).get(node, {}).get('seq') == last
                   for r in master.json_lines())
    mp.poll(merged_last, timeout=30, what='the master to emit the final period')
    master.stop()
    got = sinkload.report_sums(master.json_lines())
    mp.check(got == want, f'pusher: the master merged the final period (seq {last}) and the '
             'same sums as stdout', f'{sum(got.values())} vs {sum(want.values())} statements')
    mp.done()


if __name__ == '__main__':
    main()
