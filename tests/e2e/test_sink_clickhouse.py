#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The ClickHouse sink against Debian's clickhouse-server 18.16, started in the test's namespace.

live: sysbench on the agent's host; mid-run ClickHouse is stopped for MP_CH_OUTAGE_S seconds
(default 20; the acceptance figure is 60: MP_CH_OUTAGE_S=60) and started again. Afterwards the
sums per (template, command) read from ClickHouse with FINAL equal the agent's reports, which
equal the server's Com_* counters; every report row is in ClickHouse once (FINAL) whatever the
retries stored; the p99 the README's query computes from the summed histogram equals the p99
of the reports' merged histogram.
bad: a sink that cannot be reached, that answers 500, that answers garbage: counted in /metrics,
said once in the log, the agent keeps reporting every period and exits cleanly."""
import os
import re
import shutil
import socket
import threading
import time

import clickhouse
import mp
import sinkload

SECONDS = int(os.environ.get('MP_CH_SECONDS', '45'))
OUTAGE = int(os.environ.get('MP_CH_OUTAGE_S', '20'))
CH_HTTP = 8123  # inside the namespace
SECRET = 'ch-pw-7f3a9'



def readme_query():
    """The README's fleet query (the first sql block using the summed histogram): the test
    runs what users are told to run."""
    text = open(os.path.join(mp.ROOT, 'README.md')).read()
    for block in re.findall(r'```sql\n(.*?)```', text, re.S):
        if 'sumMap(m_query_time_histMap' in block:
            return block
    raise RuntimeError('README.md has no fleet query')


def agent_args(url, extra=()):
    return ['-p', str(sinkload.DB_PORT), '-o', 'report', '--report_period_ms', '1000',
            '--serverport', str(sinkload.HTTP), '--sinks.clickhouse.url', url] + list(extra)


def ch_sums(ch):
    rows = ch.query('SELECT queryid, command, sum(num_queries) FROM mysqlprobe.metrics FINAL '
                    'GROUP BY queryid, command')
    return {(q, c): int(n) for q, c, n in rows}


def check_rows_once(ch, reports):
    """Every (report, row) once under FINAL; the raw table may hold retried copies."""
    want = sum(len(r['stats']) for r in reports)
    final = int(ch.query('SELECT count() FROM mysqlprobe.metrics FINAL')[0][0])
    raw = int(ch.query('SELECT count() FROM mysqlprobe.metrics')[0][0])
    seqs = int(ch.query('SELECT uniqExact(seq) FROM mysqlprobe.metrics FINAL')[0][0])
    with_rows = len({r['seq'] for r in reports if r['stats']})
    mp.diag(f'rows: reports {want}, ClickHouse FINAL {final}, raw {raw}')
    mp.check(final == want, f'ClickHouse holds each report row once ({final} == {want})')
    mp.check(seqs == with_rows, f'every report with rows is in ClickHouse ({seqs} == {with_rows})')
    slow = sum(len(r['slow']) for r in reports)
    slow_ch = int(ch.query('SELECT count() FROM mysqlprobe.slow FINAL')[0][0])
    mp.check(slow_ch == slow, f'slow samples: ClickHouse {slow_ch} == reports {slow}')


def check_p99(ch, reports):
    rows = ch.query(readme_query())
    mp.check(len(rows) >= 5, 'the README query gives the top templates', f'{rows[:2]}')
    bad = []
    for r in rows:
        key, p99_ch = (r[0], r[1]), int(r[-1])
        want = sinkload.p99(*sinkload.merged_hist(reports, key))
        if p99_ch != want:
            bad.append((key, p99_ch, want))
    mp.check(not bad, f'p99 from the histogram summed in ClickHouse == the reports\' merged '
             f'p99 ({len(rows)} templates)', f'{bad}')


def outage(ch, host, log):
    """Waits for rows in ClickHouse, stops it for OUTAGE s, starts it again."""
    mp.poll(lambda: ch.query('SELECT count() FROM system.tables WHERE database = '
                             "'mysqlprobe' AND name = 'metrics'")[0][0] == '1' and
            int(ch.query('SELECT count() FROM mysqlprobe.metrics')[0][0]) > 0,
            timeout=30, what='first rows in ClickHouse')
    ch.stop_server()
    t0 = time.monotonic()
    try:
        # Rows, hence inserts, come only while sysbench runs: MP_CH_SECONDS must outlast this.
        mp.poll(lambda: host.metrics().get('mysqlprobe_sink_clickhouse_failures_total', 0) > 0,
                timeout=OUTAGE + 10, what='the sink to notice the outage')
        time.sleep(max(0.0, OUTAGE - (time.monotonic() - t0)))  # the outage is the scenario
        spooled = host.metrics().get('mysqlprobe_sink_clickhouse_spool_rows', 0)
        log.append(f'outage {time.monotonic() - t0:.0f} s, {spooled:.0f} rows spooled at its end')
    finally:
        ch.start()


def live():
    host = sinkload.Host('chl')
    ch = clickhouse.ClickHouse(netns=host.ns, http_port=CH_HTTP, tcp_port=9000)
    spool = mp.tempdir('mp-ch-spool-')
    agent = mp.Agent(agent_args(ch.url, ['--sinks.clickhouse.spool_dir', spool]),
                     netns=host.ns)
    agent.wait_ready()
    s0 = host.status()
    sb = host.sysbench(SECONDS)
    log = []
    def run_outage():
        try:
            outage(ch, host, log)
        except Exception as e:  # said in the diagnostics; the checks below then fail
            log.append(f'outage: {type(e).__name__}: {e}')
    t = threading.Thread(target=run_outage)
    t.start()
    sb.communicate(timeout=SECONDS + 120)
    t.join()
    s1 = host.status()
    mp.diag('; '.join(log))
    m = host.metrics()
    mp.check(m.get('mysqlprobe_sink_clickhouse_spooled_batches_total', 0) > 0,
             'batches were spooled during the outage')
    # Replay after the outage: the spool drains (backoff is at most 30 s).
    mp.poll(lambda: host.metrics().get('mysqlprobe_sink_clickhouse_spool_rows', 1) == 0,
            timeout=90, what='the spool to drain')
    agent.stop()
    reports = agent.json_lines()
    server = {k: s1[k] - s0[k] for k in s0}
    sinkload.check_server(reports, server)
    want = sinkload.report_sums(reports)
    got = ch_sums(ch)
    diff = {k: (got.get(k), v) for k, v in want.items() if got.get(k) != v}
    diff.update({k: (v, None) for k, v in got.items() if k not in want})
    mp.check(not diff, f'ClickHouse sums per (template, command) == reports ({len(want)} keys, '
             f'{sum(want.values())} statements)', f'{list(diff.items())[:5]}')
    check_rows_once(ch, reports)
    check_p99(ch, reports)
    # A retry of batches ClickHouse had stored (an insert that timed out): every row again.
    ch.query('INSERT INTO mysqlprobe.metrics SELECT * FROM mysqlprobe.metrics')
    mp.check(ch_sums(ch) == got, 'rows stored twice by a retry still read once with FINAL')
    m = host.metrics() if agent.proc.poll() is None else m
    errs = [l for l in agent.err if 'clickhouse:' in l]
    mp.diag('agent said: ' + ' | '.join(errs[:4]))
    mp.check(len([l for l in errs if 'insert failed' in l]) <= 2,
             'insert failures said at most once a minute', f'{errs}')
    mp.check(agent.proc.returncode == 0, 'the agent exits 0', f'{agent.proc.returncode}')


def serve_bad(kind):
    """A listener in this (the test's) namespace answering every request badly. Port."""
    srv = socket.socket()
    srv.bind(('127.0.0.1', 0))
    srv.listen(16)
    stop = threading.Event()

    def run():
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                c, _ = srv.accept()
            except OSError:
                continue
            with c:
                c.settimeout(2)
                try:
                    c.recv(65536)
                    if kind == '500':
                        body = b'Code: 999, e.displayText() = DB::Exception: injected'
                        c.sendall(b'HTTP/1.1 500 Internal Server Error\r\nContent-Length: %d'
                                  b'\r\nConnection: close\r\n\r\n%s' % (len(body), body))
                    else:
                        c.sendall(b'\x00\x01garbage, not HTTP\r\n\r\n')
                except OSError:
                    pass
    t = threading.Thread(target=run, daemon=True)
    t.start()

    def close():
        stop.set()
        t.join(5)
        srv.close()
    mp.defer(close, f'bad ClickHouse ({kind})')
    return srv.getsockname()[1]


def unused_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


def bad(host, kind):
    port = unused_port() if kind == 'unreachable' else serve_bad(kind)
    agent = mp.Agent(agent_args(f'http://127.0.0.1:{port}/',
                                ['--sinks.clickhouse.user', 'mp',
                                 '--sinks.clickhouse.password', SECRET]), netns=host.ns)
    agent.wait_ready()
    sb = host.sysbench(6, threads=2)
    mp.poll(lambda: host.metrics().get('mysqlprobe_sink_clickhouse_failures_total', 0) >= 3,
            timeout=30, what='three failed inserts')
    sb.communicate(timeout=60)
    n0 = len(agent.json_lines())
    mp.poll(lambda: len(agent.json_lines()) >= n0 + 2, timeout=10,
            what='reports still coming each period')
    m = host.metrics()
    shown = mp.http_get(f'http://127.0.0.1:{sinkload.HTTP}/metrics')[1] + \
        mp.http_get(f'http://127.0.0.1:{sinkload.HTTP}/status')[1]
    rc = agent.stop()
    said = [l for l in agent.err if 'clickhouse: insert failed' in l]
    mp.check(rc == 0 and len(said) == 1 and m['mysqlprobe_sink_clickhouse_inserts_total'] == 0,
             f'{kind}: failures counted ({m["mysqlprobe_sink_clickhouse_failures_total"]:.0f}), '
             f'said once, reports kept coming, clean exit',
             f'rc {rc}, said {said}, {agent.err[-5:]}')
    mp.check(SECRET not in ' '.join(agent.err) + shown,
             f'{kind}: the password is in neither the log, /metrics nor /status')


def main():
    mp.need_root('ClickHouse sink (namespace, BPF)')
    if not shutil.which('clickhouse-server'):
        mp.skip('ClickHouse sink', 'clickhouse-server is not installed')
        mp.done()
    with mp.case('live load, outage and replay'):
        live()
    with mp.case('bad sinks'):
        host = sinkload.Host('chb')
        for kind in ('unreachable', '500', 'garbage'):
            bad(host, kind)
    mp.done()


if __name__ == '__main__':
    main()
