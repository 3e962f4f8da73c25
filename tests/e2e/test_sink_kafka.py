#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The Kafka sink against librdkafka's mock cluster (build/tests/kafka_mock: the real protocol on
loopback ports in the test's namespace), read back with kcat.

live: sysbench on the agent's host with sinks.kafka.events on; after SIGTERM the stats topic's
sums per (template, command) equal the agent's reports, which equal the server's Com_* counters;
every message has key = template id and the term header; the events topic holds one message per
statement; the delivery reports in /metrics match what the topic holds.
dead broker: the brokers go away mid-run: reports keep coming every period; at exit the agent
waits sinks.kafka.flush_ms, purges the rest, counts it and says so, and exits 0."""
import collections
import json
import os
import shutil
import subprocess
import time

import mp
import sinkload

SECONDS = int(os.environ.get('MP_KAFKA_SECONDS', '15'))
MOCK = os.path.join(mp.ROOT, 'build/tests/kafka_mock')
TOPICS = ('mysqlprobe.stats', 'mysqlprobe.events')


def broker(ns):
    """Starts the mock cluster in ns; returns (process, bootstrap list)."""
    p = mp.spawn([MOCK, '-p', '3'] + list(TOPICS), netns=ns, what='kafka mock cluster',
                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline().strip()
    if not line:
        raise RuntimeError(f'kafka_mock printed no bootstrap list (exit {p.poll()})')
    return p, line


def consume(bootstraps, topic):
    """Every message of topic, as kcat -J envelopes (dicts)."""
    r = mp.sh(['kcat', '-b', bootstraps, '-C', '-t', topic, '-o', 'beginning', '-e', '-J',
               '-q'], timeout=300)
    return [json.loads(l) for l in r.stdout.splitlines() if l.startswith('{')]


class LiveConsumer:
    """kcat reading topic while it is written: librdkafka's mock broker keeps only the newest
    5 MiB of each partition, so a stream bigger than that is read as it comes, as a real
    consumer would."""

    def __init__(self, bootstraps, topic):
        self.path = os.path.join(mp.tempdir('mp-kcat-'), 'out.json')
        self.out = open(self.path, 'w')
        self.proc = mp.spawn(['kcat', '-b', bootstraps, '-C', '-t', topic, '-o', 'beginning',
                              '-J', '-q'], stdout=self.out, stderr=subprocess.DEVNULL)

    def count(self):
        with open(self.path) as f:
            return sum(1 for l in f if l.startswith('{'))

    def stop(self, want, timeout=60):
        """Waits until want messages were read (or timeout), stops, returns them."""
        mp.wait_until(lambda: self.count() >= want, timeout=timeout)
        mp.stop_process(self.proc)
        self.out.close()
        with open(self.path) as f:
            return [json.loads(l) for l in f if l.startswith('{')]


def agent_args(bootstraps, extra=()):
    return ['-p', str(sinkload.DB_PORT), '-o', 'report', '--report_period_ms', '1000',
            '--serverport', str(sinkload.HTTP), '--sinks.kafka.brokers', bootstraps] + \
        list(extra)


def check_stats(msgs, reports):
    sums = collections.Counter()
    bad = []
    for m in msgs:
        v = json.loads(m['payload'])
        sums[(v['template_id'], v['command'])] += v['count']
        head = dict(zip(m['headers'][::2], m['headers'][1::2]))
        if m['key'] != v['template_id'] or head.get('term') != str(v['term']) or \
                not all(k in v for k in ('node', 'seq', 'period_start_ms', 'period_end_ms',
                                         'db', 'user', 'client', 'latency_us', 'template')):
            bad.append(m)
    mp.check(not bad, f'every stats message: key = template_id, term header, the report\'s '
             f'identity and row ({len(msgs)} messages)', f'{bad[:2]}')
    want = sinkload.report_sums(reports)
    diff = {k: (sums.get(k), n) for k, n in want.items() if sums.get(k) != n}
    diff.update({k: (n, None) for k, n in sums.items() if k not in want})
    mp.check(not diff, f'Kafka sums per (template, command) == reports ({len(want)} keys, '
             f'{sum(want.values())} statements)', f'{list(diff.items())[:5]}')
    rows = sum(len(r['stats']) for r in reports)
    mp.check(len(msgs) == rows, f'one message per report row, none twice ({len(msgs)} == {rows})')


def live():
    host = sinkload.Host('kfl')
    _, bs = broker(host.ns)
    agent = mp.Agent(agent_args(bs, ['--sinks.kafka.events=true']), netns=host.ns)
    agent.wait_ready()
    live_events = LiveConsumer(bs, TOPICS[1])
    s0 = host.status()
    host.sysbench(SECONDS).communicate(timeout=SECONDS + 120)
    s1 = host.status()
    m = mp.poll(lambda: (lambda m: m if m.get(
        'mysqlprobe_sink_kafka_messages_total{kind="events",outcome="delivered"}', 0) > 0 and
        m.get('mysqlprobe_sink_kafka_queued', 1) == 0 else None)(host.metrics()),
        timeout=60, what='the events to be delivered')
    rc = agent.stop()
    mp.check(rc == 0, 'the agent exits 0', f'{rc}: {agent.err[-5:]}')
    reports = agent.json_lines()
    server = {k: s1[k] - s0[k] for k in s0}
    sinkload.check_server(reports, server)
    stats = consume(bs, TOPICS[0])
    check_stats(stats, reports)
    total = sum(sinkload.report_sums(reports).values())
    events = live_events.stop(total)
    execs = sum(1 for e in events if json.loads(e['payload'])['command'] == 'execute')
    mp.check(len(events) == total and execs == server['Com_stmt_execute'],
             f'events topic: one message per statement ({len(events)} == {total}), executes '
             f'{execs} == server {server["Com_stmt_execute"]}',
             str({k: v for k, v in m.items() if 'kind="events"' in k}))
    produced = m['mysqlprobe_sink_kafka_messages_total{kind="stats",outcome="produced"}']
    failed = sum(v for k, v in m.items() if 'outcome="failed"' in k or 'outcome="dropped"' in k)
    mp.check(failed == 0 and produced <= len(stats),
             f'delivery reports counted: {produced:.0f} stats produced before the end, '
             f'none failed', f'{m}')


def dead_broker():
    host = sinkload.Host('kfd')
    mock, bs = broker(host.ns)
    agent = mp.Agent(agent_args(bs, ['--sinks.kafka.flush_ms', '2000']), netns=host.ns)
    agent.wait_ready()
    sb = host.sysbench(8, threads=2)
    mp.poll(lambda: host.metrics().get(
        'mysqlprobe_sink_kafka_messages_total{kind="stats",outcome="delivered"}', 0) > 0,
        timeout=30, what='first deliveries')
    mp.stop_process(mock)  # the brokers go away
    sb.communicate(timeout=60)
    n0 = len(agent.json_lines())
    mp.poll(lambda: len(agent.json_lines()) >= n0 + 2, timeout=10,
            what='reports still coming each period')
    t0 = time.monotonic()
    rc = agent.stop()
    took = time.monotonic() - t0
    said = [l for l in agent.err if 'kafka:' in l]
    mp.diag(' | '.join(said[-3:]))
    mp.check(rc == 0 and took < 15 and any('purged' in l for l in said) and
             any('messages not delivered' in l for l in said),
             f'dead brokers: the agent exits 0 in {took:.1f} s, the undelivered rows purged '
             f'and counted in its last lines', f'rc {rc}, {said}')
    brokers = [l for l in said if 'kafka: brokers' in l]
    mp.check(len(brokers) <= 1, 'broker errors said at most once a minute', f'{brokers}')


def main():
    mp.need_root('Kafka sink (namespace, BPF)')
    if not os.path.exists(MOCK) or not shutil.which('kcat'):
        mp.skip('Kafka sink', f'needs {MOCK} (make tests) and kcat')
        mp.done()
    with mp.case('live load to the stats and events topics'):
        live()
    with mp.case('dead brokers'):
        dead_broker()
    mp.done()


if __name__ == '__main__':
    main()
