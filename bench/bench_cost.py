#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The observer's whole cost per statement, as a share of the server's own CPU per statement
(issue 18): sysbench against a MariaDB on lo in a namespace, with nothing attached, the agent
in tc, xdp and pcap modes, and tcpdump -w /dev/null. Prints a Markdown section.

Per cell, over a fixed number of sysbench events (not a fixed time, so every cell does the same
work): the server's CPU (mariadbd's utime+stime from /proc), the observer's CPU (same, over the
same window, start-up excluded), the BPF programs' own run time (run_time_ns / run_cnt from
their fdinfo, with BPF_ENABLE_STATS held for the run: the kernel counts nothing otherwise), and
the whole machine's busy CPU (/proc/stat) minus that of the same cell without an observer (the
only figure that also holds pcap's and tcpdump's kernel-side copy; on a shared machine, noise).
Each figure is the median of --runs runs, the observers interleaved within each run.

Hardware counters are not available on every machine (perf stat instructions says <not
supported> in VMs), so this measures time; --callgrind adds the agent's userspace instructions
per statement (valgrind --tool=callgrind, collection switched on for the window only), which do
not depend on the machine's load.
"""
import argparse
import ctypes
import os
import subprocess
import sys
import tempfile
import time

import mpbench as mb
from mpbench import mp

PORT = 3321
TABLES = 4
CONFIGS = ('none', 'tc', 'xdp', 'pcap', 'tcpdump')
WORKLOADS = ('oltp_point_select', 'oltp_read_write')
HZ = os.sysconf('SC_CLK_TCK')
PROG_TYPES = {3: 'tc', 6: 'xdp'}  # BPF_PROG_TYPE_SCHED_CLS, BPF_PROG_TYPE_XDP


def parse_args():
    a = argparse.ArgumentParser(description=__doc__)
    a.add_argument('--threads', type=int, default=2, help='sysbench threads')
    a.add_argument('--ps-events', type=int, default=60000,
                   help='sysbench events (= statements) per oltp_point_select cell')
    a.add_argument('--rw-events', type=int, default=3000,
                   help='sysbench events (18 statements each) per oltp_read_write cell')
    a.add_argument('--runs', type=int, default=3, help='runs per cell (the median is shown)')
    a.add_argument('--workloads', default=','.join(WORKLOADS))
    a.add_argument('--configs', default=','.join(CONFIGS),
                   help='observers; tc@LABEL / xdp@LABEL run the binary given by --bin LABEL=PATH')
    a.add_argument('--bin', action='append', default=[], metavar='LABEL=PATH',
                   help='another agent binary (e.g. a build of an earlier commit) to compare')
    a.add_argument('--callgrind', type=int, default=0, metavar='N',
                   help='also count the tc agent\'s userspace instructions per statement under '
                        'callgrind over N events per workload (0: skip)')
    return a.parse_args()


# ---------------------------------------------------------------- counters
def proc_cpu(pid):
    """(user, sys) CPU seconds of process pid, all its threads."""
    with open(f'/proc/{pid}/stat') as f:
        rest = f.read().rsplit(')', 1)[1].split()
    return int(rest[11]) / HZ, int(rest[12]) / HZ


def machine_busy():
    """CPU seconds the whole machine was busy (every CPU; idle and iowait excluded)."""
    with open('/proc/stat') as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v[:8]) - v[3] - v[4]) / HZ


def prog_stats(pid):
    """{prog_id: (kind, run_time_ns, run_cnt)} of the BPF programs pid holds open."""
    out = {}
    for fd in os.listdir(f'/proc/{pid}/fdinfo'):
        try:
            with open(f'/proc/{pid}/fdinfo/{fd}') as f:
                kv = dict(l.split(':', 1) for l in f if ':' in l)
        except OSError:
            continue
        if 'prog_id' in kv and 'run_cnt' in kv:
            out[int(kv['prog_id'])] = (PROG_TYPES.get(int(kv['prog_type']), kv['prog_type']),
                                       int(kv['run_time_ns']), int(kv['run_cnt']))
    return out


class BpfStats:
    """BPF_ENABLE_STATS (BPF_STATS_RUN_TIME): the kernel times every BPF program while the fd
    is open. Unlike the kernel.bpf_stats_enabled sysctl it is dropped with the fd, so it neither
    leaks past the bench nor fights other users of the sysctl."""

    def __enter__(self):
        libc = ctypes.CDLL(None, use_errno=True)
        attr = (ctypes.c_uint8 * 8)()  # union bpf_attr: enable_stats.type = 0
        self.fd = libc.syscall(321, 32, attr, ctypes.sizeof(attr))  # __NR_bpf, BPF_ENABLE_STATS
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), 'BPF_ENABLE_STATS')
        return self

    def __exit__(self, *a):
        os.close(self.fd)


class Snapshot:
    def __init__(self, status, server_pid, obs_pid):
        self.status = status.read()
        self.server = sum(proc_cpu(server_pid))
        self.obs = proc_cpu(obs_pid) if obs_pid else (0.0, 0.0)
        self.progs = prog_stats(obs_pid) if obs_pid else {}
        self.busy = machine_busy()


# ---------------------------------------------------------------- one cell
def observer_argv(config, bins):
    if config == 'none':
        return None
    if config == 'tcpdump':
        return ['tcpdump', '-i', 'lo', '-w', '/dev/null', 'tcp', 'port', str(PORT)]
    mode, _, label = config.partition('@')
    return [bins[label] if label else mb.BIN, '-p', str(PORT), '--mode', mode, '-o', mb.OUTPUT]


def cell(ns, status, db, sb, events, threads, config, bins):
    argv = observer_argv(config, bins)
    obs = None
    if argv:
        obs = mb.Proc(ns.cmd(argv))
        obs.wait_for('listening' if config == 'tcpdump' else 'ready')
    pid = obs.proc.pid if obs else None
    s0 = Snapshot(status, db.proc.pid, pid)
    sb.run([f'--threads={threads}', f'--events={events}', '--time=0'])
    if obs and config != 'tcpdump':
        time.sleep(0.3)  # the agent's poll timeout (100 ms) delivers the ring buffer's tail
    s1 = Snapshot(status, db.proc.pid, pid)
    n, _ = mb.server_statements(s0.status, s1.status)
    row = {'server': n, 'server_us': (s1.server - s0.server) / n * 1e6,
           'busy_us': (s1.busy - s0.busy) / n * 1e6,
           'obs_user_us': (s1.obs[0] - s0.obs[0]) / n * 1e6,
           'obs_sys_us': (s1.obs[1] - s0.obs[1]) / n * 1e6, 'bpf_ns': {}, 'bpf_runs': {}}
    for pid_, (kind, rt, cnt) in s1.progs.items():
        k0 = s0.progs.get(pid_, (kind, 0, 0))
        row['bpf_ns'][kind] = row['bpf_ns'].get(kind, 0) + (rt - k0[1]) / n
        row['bpf_runs'][kind] = row['bpf_runs'].get(kind, 0) + (cnt - k0[2]) / n
    if obs:
        obs.stop()
        if config != 'tcpdump':
            row['events'] = mp.agent_counters(obs.err(), 'decode').get('events', 0)
            row['dropped'] = mp.agent_counters(obs.err(), 'capture').get('dropped', -1)
    mb.log(f'cost: {sb.workload} {config}: {n} statements, server {row["server_us"]:.2f} us, '
           f'observer {row["obs_user_us"] + row["obs_sys_us"]:.3f} us, bpf '
           f'{sum(row["bpf_ns"].values()):.0f} ns per statement')
    return row


# ---------------------------------------------------------------- callgrind
def callgrind_cell(ns, status, sb, events, threads):
    """The tc agent under callgrind, instructions counted only while sysbench runs."""
    tmp = tempfile.mkdtemp(prefix='mp-bench-cg-')
    out = os.path.join(tmp, 'callgrind.out')
    argv = ['valgrind', '--tool=callgrind', '--instr-atstart=no', f'--callgrind-out-file={out}',
            mb.BIN, '-p', str(PORT), '--mode', 'tc', '-o', mb.OUTPUT, '--ringbuf-mb', '256']
    obs = mb.Proc(ns.cmd(argv))
    try:
        obs.wait_for('ready', timeout=120)
        s0 = status.read()
        subprocess.run(['callgrind_control', '-i', 'on', str(obs.proc.pid)], check=True,
                       stdout=subprocess.DEVNULL)
        sb.run([f'--threads={threads}', f'--events={events}', '--time=0'])
        s1 = status.read()
        # The agent drains the ring buffer at its own (valgrind) pace: wait for every event.
        n, _ = mb.server_statements(s0, s1)
        time.sleep(2)
        subprocess.run(['callgrind_control', '-i', 'off', str(obs.proc.pid)], check=True,
                       stdout=subprocess.DEVNULL)
    finally:
        obs.stop()
    ir = 0
    for f in os.listdir(tmp):
        with open(os.path.join(tmp, f)) as fh:
            for line in fh:
                if line.startswith('summary:') or line.startswith('totals:'):
                    ir = max(ir, int(line.split()[1]))
    err = obs.err()
    dropped = mp.agent_counters(err, 'capture').get('dropped', -1)
    mp.remove_unless_kept(tmp)
    return {'ir': ir, 'server': n, 'per_stmt': ir / n if n else 0, 'dropped': dropped,
            'cmd': mb.shell(argv)}


# ---------------------------------------------------------------- report
def med(rows, f):
    return mb.median([f(r) for r in rows])


def print_section(args, res, argvs, cg):
    print('## Whole cost per statement, % of the server (bench/bench_cost.py)\n')
    print(f'Command: `bench/bench_cost.py --threads {args.threads} --ps-events {args.ps_events} '
          f'--rw-events {args.rw_events} --runs {args.runs}'
          + (f' --configs {args.configs}' if args.configs != ','.join(CONFIGS) else '')
          + ''.join(f' --bin {b}' for b in args.bin)
          + (f' --callgrind {args.callgrind}' if args.callgrind else '') + '`. One MariaDB on lo '
          f'in a namespace ({TABLES} tables of {mb.TABLE_SIZE:,} rows), sysbench with '
          f'{args.threads} threads and prepared statements in the same namespace; each cell a '
          'fixed number of events; observers: '
          + '; '.join(f'{c}: `{a}`' for c, a in argvs.items() if a) + '.\n')
    print('- **server** = mariadbd\'s user+sys CPU (/proc/PID/stat) per server statement '
          '(ΔQuestions − 1 + ΔCom_stmt_prepare + ΔCom_stmt_close).')
    print('- **observer** = the observer\'s user+sys CPU over the same window (start-up '
          'excluded). **BPF** = the capture programs\' run_time_ns per statement (per hook; '
          'BPF_ENABLE_STATS held for the bench) and how many times they ran per statement. '
          'BPF runs in softirq of whichever task sent or received the packet, so it is in no '
          'process\'s figure.')
    print('- **whole, % of server** = (observer + BPF) / server. **machine − none** = the '
          'whole machine\'s busy CPU per statement minus the same cell without an observer '
          '(includes the kernel-side packet copies of pcap and tcpdump; on a shared machine '
          'other work lands in it too: read it as a rough check).')
    print(f'- Medians of {args.runs} runs. Times, not instruction counts: the machine is shared '
          'and its load moves them; the BPF runs per statement and the callgrind figures do '
          'not depend on load.\n')
    for wl in args.workloads.split(','):
        print(f'### {wl}\n')
        print('| observer | server µs/stmt | observer µs/stmt (user+sys) | BPF ns/stmt '
              '(runs/stmt) | **whole, % of server** | machine − none µs/stmt | events / '
              'server, drops |')
        print('|---|---:|---:|---|---:|---:|---|')
        none_busy = med(res[(wl, 'none')], lambda r: r['busy_us']) \
            if (wl, 'none') in res else None
        for c in args.configs.split(','):
            rows = res.get((wl, c))
            if not rows:
                continue
            srv = med(rows, lambda r: r['server_us'])
            obs = med(rows, lambda r: r['obs_user_us'] + r['obs_sys_us'])
            kinds = sorted({k for r in rows for k in r['bpf_ns']})
            bpf = {k: med(rows, lambda r: r['bpf_ns'].get(k, 0)) for k in kinds}
            runs = {k: med(rows, lambda r: r['bpf_runs'].get(k, 0)) for k in kinds}
            whole = med(rows, lambda r: (r['obs_user_us'] + r['obs_sys_us'] +
                                         sum(r['bpf_ns'].values()) / 1000) / r['server_us'])
            busy = med(rows, lambda r: r['busy_us'])
            bpf_txt = ', '.join(f'{k} {bpf[k]:.0f} ({runs[k]:.2f})' for k in kinds) or '—'
            comp = '—'
            if 'events' in rows[0]:
                comp = ', '.join(f'{r["events"]}/{r["server"]} d{r["dropped"]}' for r in rows)
            print(f'| {c} | {srv:.2f} | {obs:.3f} | {bpf_txt} | '
                  f'{"—" if c == "none" else f"**{100 * whole:.1f}%**"} | '
                  f'{"—" if c == "none" or none_busy is None else f"{busy - none_busy:+.2f}"} '
                  f'| {comp} |')
        print()
        if wl in cg:
            g = cg[wl]
            print(f'Userspace instructions, tc agent under callgrind: **{g["per_stmt"]:,.0f} '
                  f'instructions per statement** ({g["ir"]:,} over {g["server"]:,} statements, '
                  f'ring-buffer drops {g["dropped"]}; `{g["cmd"]}`).\n')


def main():
    args = parse_args()
    bins = dict(b.split('=', 1) for b in args.bin)
    configs = args.configs.split(',')
    argvs = {c: (mb.shell(observer_argv(c, bins)) if observer_argv(c, bins) else '')
             for c in configs}
    res, cg = {}, {}
    with mp.Netns('bcost') as ns:
        db = mp.MariaDB(port=PORT, netns=ns)
        status = None
        try:
            mb.Sysbench(ns, PORT, 'oltp_point_select', tables=TABLES).prepare()
            status = mb.ServerStatus(db)
            with BpfStats():
                for wl in args.workloads.split(','):
                    sb = mb.Sysbench(ns, PORT, wl, 'auto', tables=TABLES)
                    events = args.ps_events if wl == 'oltp_point_select' else args.rw_events
                    sb.run([f'--threads={args.threads}', f'--events={events // 4}',
                            '--time=0'])  # warm the buffer pool
                    for _ in range(args.runs):
                        for c in configs:
                            res.setdefault((wl, c), []).append(
                                cell(ns, status, db, sb, events, args.threads, c, bins))
                    if args.callgrind:
                        cg[wl] = callgrind_cell(ns, status, sb, args.callgrind, args.threads)
        finally:
            if status:
                status.close()
            db.stop()
    print_section(args, res, argvs, cg)
    whole = {}
    for (wl, c), rows in res.items():
        if c in ('tc', 'xdp'):
            whole.setdefault(c, {})[wl] = med(rows, lambda r: (
                r['obs_user_us'] + r['obs_sys_us'] + sum(r['bpf_ns'].values()) / 1000) /
                r['server_us'])
    mb.save_results('cost', {'whole': whole})
    return 0


if __name__ == '__main__':
    sys.exit(main())
