#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Live cost and completeness: sysbench against a MariaDB on lo with nothing attached, with the
agent in tc, xdp and pcap modes, and with tcpdump -w /dev/null. Prints a Markdown section.

Per run: server statements/s (median of sysbench's per-second qps, and the server's own counters
over the run), agent CPU per statement, completeness = agent events / server statements,
ring-buffer drops and TCP gaps.
"""
import argparse
import sys
import time

import mpbench as mb
from mpbench import mp

PORT = 3320
TABLES = 4
CONFIGS = ('none', 'tc', 'xdp', 'pcap', 'tcpdump')
WORKLOADS = ('oltp_point_select', 'oltp_read_write')


def parse_args():
    a = argparse.ArgumentParser(description=__doc__)
    a.add_argument('--seconds', type=int, default=30, help='sysbench run length per cell')
    a.add_argument('--threads', default='2,8,32', help='sysbench thread counts')
    a.add_argument('--workloads', default=','.join(WORKLOADS))
    a.add_argument('--configs', default=','.join(CONFIGS))
    return a.parse_args()


def start_observer(ns, config, kind):
    """The agent or tcpdump, attached and ready; None for the baseline."""
    if config == 'none':
        return None, ''
    if config == 'tcpdump':
        argv = ['tcpdump', '-i', 'lo', '-w', '/dev/null', 'tcp', 'port', str(PORT)]
        p = mb.Proc(ns.cmd(argv))
        p.wait_for('listening')
    else:
        argv = [mb.BIN, '-p', str(PORT), '--mode', config, '-o', kind]
        p = mb.Proc(ns.cmd(argv))
        p.wait_for('ready')
    return p, mb.shell(argv)


def cell(ns, status, sb, threads, seconds, config, kind):
    obs, cmd = start_observer(ns, config, kind)
    s0 = status.read()
    t0 = time.monotonic()
    res = sb.run([f'--threads={threads}', f'--time={seconds}', '--report-interval=1'])
    t1 = time.monotonic()
    s1 = status.read()
    row = {'config': config, 'cmd': cmd, 'qps_med': res.qps_median, 'qps_avg': res.qps,
           'samples': len(res.per_s)}
    server, delta = mb.server_statements(s0, s1)
    row['server'] = server
    row['server_rate'] = server / (t1 - t0)
    if obs:
        obs.stop()
        err = obs.err()
        row['cpu'] = obs.cpu
        if config != 'tcpdump':
            dec, cap = mp.agent_counters(err, 'decode'), mp.agent_counters(err, 'capture')
            row['events'] = dec.get('events', 0)
            row['gaps'] = dec.get('gaps', -1)
            row['dropped'] = cap.get('dropped', -1)
            row['decode_errors'] = dec.get('decode_errors', -1)
        else:
            row['events'] = None
    mb.log(f'live: {sb.workload} {threads} threads {config}: {row["qps_med"]:.0f} q/s, server '
           f'{server}, agent {row.get("events")}, cpu {row.get("cpu", 0):.2f}s')
    return row


def main():
    args = parse_args()
    kind = mb.OUTPUT
    threads = [int(t) for t in args.threads.split(',')]
    configs = args.configs.split(',')
    results = {}
    with mp.Netns('blive') as ns:
        db = mp.MariaDB(port=PORT, netns=ns)
        status = None
        try:
            mb.Sysbench(ns, PORT, 'oltp_point_select', tables=TABLES).prepare()
            status = mb.ServerStatus(db)
            for wl in args.workloads.split(','):
                sb = mb.Sysbench(ns, PORT, wl, 'auto', tables=TABLES)
                for t in threads:
                    for c in configs:
                        results[(wl, t, c)] = cell(ns, status, sb, t, args.seconds, c, kind)
                results[(wl, 'argv')] = mb.shell(sb.run_argv(
                    ['--threads=T', f'--time={args.seconds}', '--report-interval=1']))
        finally:
            if status:
                status.close()
            db.stop()
    print_section(args, kind, threads, configs, results)
    return 0


def pct(x):
    return f'{100 * x:.3f}%'


def print_section(args, kind, threads, configs, res):
    wls = args.workloads.split(',')
    out = ['## Live: server throughput, agent cost and completeness (bench/bench_live.py)\n',
           f'One MariaDB on lo in a network namespace ({TABLES} tables of {mb.TABLE_SIZE:,} rows, '
           'prepared once), sysbench in the same namespace, prepared statements on '
           f'(`--db-ps-mode=auto`), {args.seconds} s per cell, cells run one after the other. '
           'Configurations: nothing attached; '
           f'`build/mysqlprobe -p {PORT} --mode tc|xdp|pcap -o {kind}`; '
           f'`tcpdump -i lo -w /dev/null tcp port {PORT}`.\n',
           '- **sysbench q/s** = median of sysbench\'s per-second `qps` (`--report-interval=1`) '
           'within the run; **server stmt/s** = the server\'s own count over the run '
           '/ wall time of the sysbench process.',
           '- **server statements** = ΔQuestions − 1 (the SHOW that reads the counters) + '
           'ΔCom_stmt_prepare + ΔCom_stmt_close: Questions counts every client command '
           'including COM_QUIT, but MariaDB leaves COM_STMT_PREPARE/CLOSE out of it. The '
           'counters are read over one persistent unix-socket connection, so nothing else '
           'crosses TCP. **completeness** = agent `events=` / server statements.',
           '- **µs CPU/stmt** = the observer\'s user+sys CPU seconds (wait4) per million '
           'server statements, i.e. µs per statement; it includes start-up and the BPF '
           'program load. The BPF program itself runs in softirq context of the MariaDB and '
           'sysbench threads and is not in it (its per-packet cost is in the kernel-side '
           'section); it shows up in the throughput columns instead.',
           '- MariaDB, sysbench and the observer share the machine\'s cores, so every CPU '
           'cycle the observer takes is a cycle the server does not get.',
           '- **drops** = `dropped=` of the agent\'s `mysqlprobe: capture:` line (ring buffer, '
           'or libpcap\'s drop count in pcap mode); **gaps** = `gaps=` of its decode line.\n']
    for wl in wls:
        out.append(f'### {wl}\n')
        out.append(f'`{res[(wl, "argv")]}`\n')
        out += ['| threads | attached | sysbench q/s | vs none | server stmt/s | '
                'server statements | agent statements | completeness | drops | gaps | '
                'µs CPU/stmt |', '|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|']
        for t in threads:
            base = res.get((wl, t, 'none'))
            for c in configs:
                r = res[(wl, t, c)]
                vs = f'{100 * r["qps_med"] / base["qps_med"]:.1f}%' if base else '-'
                ev = r.get('events')
                comp = pct(ev / r['server']) if ev is not None and r['server'] else '-'
                cpu = (f'{1e6 * r["cpu"] / r["server"]:.2f}'
                       if 'cpu' in r and r['server'] else '-')
                out.append(f'| {t} | {c} | {r["qps_med"]:,.0f} | {vs} | '
                           f'{r["server_rate"]:,.0f} | {r["server"]:,} | '
                           f'{"-" if ev is None else f"{ev:,}"} | {comp} | '
                           f'{r.get("dropped", "-")} | {r.get("gaps", "-")} | {cpu} |')
        out.append('')
    print('\n'.join(out))
    mb.save_results('live', {f'{wl}|{t}|{c}': res[(wl, t, c)] for wl in wls for t in threads
                             for c in configs})


if __name__ == '__main__':
    sys.exit(main())
