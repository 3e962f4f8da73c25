#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""A first run as a person sees it. In a real terminal (tmux) with the output left at its
default, the agent prints a table per period: our three known templates with the counts of
the agent's own JSON reports, errors, units, one health line, nothing wider than the terminal,
no JSON; -o report still prints JSON there. Into a pipe the default stays JSON. stderr of an
idle agent, at the default level and at -v, over several periods: the ready line and nothing
else (no libwebsockets banner, no per-second counters, no raw libbpf line). A BPF attach that
fails (lo already captured) is one line naming the device, the reason and the pcap fallback."""
import os
import re
import shutil
import subprocess

import known
import mp
from known import FAIL_N, FAST_N, PORT, SLOW_N

WIDTH, HEIGHT = 120, 40
# A table row (roles/table_out.c write_row()): load, count, count/s, mean and p99 (number
# and unit), errors, template.
ROW_RE = re.compile(r'^\s*(\S+)\s+(\d+)\s+(\S+)\s+(\S+ [µm]?s)\s+(\S+ [µm]?s)\s+(\d+) (.*)$')
TITLE_RE = re.compile(r'^\d\d:\d\d:\d\d-\d\d:\d\d:\d\d  (\d+) statements, \S+/s, \d+ templates?$')
HEALTH_RE = re.compile(r'^capture: \d+ packets, \d+ dropped, \d+ gaps, \d+ decode errors, '
                       r'\d+ ms stalled')


class Tmux:
    """A tmux server of our own (tmux -L), WIDTHxHEIGHT, killed with its scope."""

    def __init__(self):
        self.name = f'mp-first-{os.getpid()}'
        self.n = 0
        mp.defer(lambda: subprocess.run(self._argv('kill-server'), stderr=subprocess.DEVNULL),
                 'tmux server')

    def _argv(self, *a):
        return ['tmux', '-L', self.name, '-f', '/dev/null'] + list(a)

    def run(self, cmd):
        """A new window running cmd (then 'EXIT=<status>', kept open); returns its name."""
        self.n += 1
        win = f'w{self.n}'
        shell = f'{cmd}; echo EXIT=$?; sleep 600'
        if self.n == 1:
            mp.sh(self._argv('new-session', '-d', '-x', str(WIDTH), '-y', str(HEIGHT), '-s',
                             'mp', '-n', win, shell))
            mp.sh(self._argv('set-option', '-t', 'mp', 'history-limit', '20000'))
        else:
            mp.sh(self._argv('new-window', '-t', 'mp', '-n', win, shell))
        return win

    def keys(self, win, *keys):
        mp.sh(self._argv('send-keys', '-t', f'mp:{win}', *keys))

    def text(self, win):
        """Everything the pane printed (its history too)."""
        return mp.sh(self._argv('capture-pane', '-p', '-S', '-', '-t', f'mp:{win}')).stdout

    def wait(self, win, cond, what, timeout=30):
        last = ['']

        def probe():
            last[0] = self.text(win)
            return cond(last[0])
        v = mp.wait_until(probe, timeout=timeout, every=0.2)
        if not v:
            mp.diag(f'pane {win} while waiting for {what}:\n' + '\n'.join(
                last[0].splitlines()[-30:]))
        return v


def table_counts(text):
    """{template: [count, errors]} summed over every period's table, and the rows."""
    out, rows = {}, []
    for line in text.splitlines():
        m = ROW_RE.match(line)
        if m:
            c = out.setdefault(m.group(7), [0, 0])
            c[0] += int(m.group(2))
            c[1] += int(m.group(6))
            rows.append(line)
    return out, rows


def texts():
    """Our statements' template texts, as `mysqlprobe template` writes them."""
    return {name: mp.sh([mp.BIN, 'template'], input=sql + '\n').stdout.split('\t')[1].strip()
            for name, sql in known.SQL.items()}


def idle_err(ns, extra, periods=6):
    """stderr of an idle agent (stdout a pipe) over several 500 ms periods, before it stops,
    and its stdout lines."""
    a = mp.Agent(['-p', str(PORT), '--report_period_ms', '500'] + extra, netns=ns)
    a.wait_ready()
    mp.poll(lambda: len(a.json_lines()) >= periods, timeout=30, what=f'{periods} reports')
    err = list(a.err)
    a.stop()
    return err, a.lines


def case_idle(ns):
    err, out = idle_err(ns, [])
    mp.check(out and all(l.startswith('{"version":2') for l in out),
             'into a pipe the default output is JSON, one report per line', out[:2])
    mp.check(len(err) == 1 and err[0].startswith('mysqlprobe: ready: mode tc'),
             'idle, default level: stderr holds the ready line only (no banner, no counters)',
             '\n'.join(err))
    err, _ = idle_err(ns, ['-v'])
    bad = [l for l in err if l.startswith(('lws:', 'libbpf:')) or 'capture: seen=' in l or
           'decode: events=' in l]
    mp.check(any(l.startswith('mysqlprobe: ready:') for l in err) and not bad,
             'idle at -v: no libwebsockets banner, no libbpf line, no counters (nothing '
             'changed)', '\n'.join(err))


def case_table(tm):
    tx = texts()
    win = tm.run(f'{mp.BIN} -p {PORT} --report_period_ms {known.PERIOD_MS} '
                 f'--slowthresholdms 100')
    if not tm.wait(win, lambda t: 'mysqlprobe: ready:' in t, 'the agent ready'):
        mp.fail('the agent starts in the terminal')
        return win
    exp = known.traffic_and_expect()

    def shown(text):
        c, _ = table_counts(text)
        return all(c.get(tx[k], [0])[0] == exp[k]['count'] for k in exp) and text
    text = tm.wait(win, shown, 'the three templates with their counts')
    counts, rows = table_counts(text or tm.text(win))
    mp.check(text, 'the table shows the three templates with the counts of the JSON reports '
             f'(fast {FAST_N}, failing {FAIL_N}, slow {SLOW_N})',
             f'{counts}\n' + '\n'.join(rows))
    if not text:
        return win
    mp.check(counts[tx['fail']][1] == FAIL_N and counts[tx['fast']][1] == 0,
             'errors are counted on the failing template only', str(counts))
    lines = text.splitlines()
    mp.check(any(TITLE_RE.match(l) for l in lines) and any(HEALTH_RE.match(l) for l in lines),
             'each period has its title line and its capture health line')
    mp.check(not any(l.lstrip().startswith('{') for l in lines), 'no JSON on a terminal')
    mp.check(any(' ms ' in r for r in rows) and any(' µs ' in r for r in rows),
             'latencies carry their units')
    mp.check(max(len(l) for l in lines) <= WIDTH, 'no line is wider than the terminal')
    mp.check(not any(l.startswith(('lws:', 'libbpf:', 'server:')) for l in lines),
             'no library banner or info line among the tables')
    out = os.environ.get('MP_TEST_OUT') or os.path.join(mp.ROOT, 'build', 'test-output',
                                                        'test_first_run')
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, 'table.txt'), 'w') as f:
        f.write(text)
    return win


def case_attach_busy(ns):
    """A device takes one XDP program: with one agent in xdp mode on lo, a second cannot attach
    there. (TC attaches through tcx links, which several agents share: no failure to show.)"""
    first = mp.Agent(['-p', str(PORT), '--serverport', '8670', '-o', 'none',
                      '--probe.mode', 'xdp'], netns=ns)
    first.wait_ready()
    a = mp.Agent(['-p', str(PORT), '--serverport', '8668', '-o', 'none', '--probe.mode', 'xdp'],
                 netns=ns)
    a.wait_ready()
    err = list(a.err)
    a.stop()
    first.stop()
    fb = [l for l in err if 'falling back to pcap' in l]
    mp.check(len(fb) == 1 and fb[0].startswith('mysqlprobe: xdp: device lo: attach failed (') and
             fb[0].endswith('): falling back to pcap'),
             'a failed attach is one line: device, reason, what the agent did', '\n'.join(err))
    mp.check(not any(l.startswith('libbpf:') for l in err), 'no raw libbpf line',
             '\n'.join(err))
    mp.check(any('mode pcap (xdp requested)' in l for l in err), 'and it runs on pcap',
             '\n'.join(err))


def case_forced_json(tm):
    win = tm.run(f'{mp.BIN} -p {PORT} --serverport 8669 --mode pcap -o report '
                 f'--report_period_ms 300')
    t = tm.wait(win, lambda t: '{"version":2' in t and t, 'JSON in the terminal')
    mp.check(t, '-o report prints JSON on a terminal too')


def main():
    mp.need_root('the agent in tmux (namespace, BPF)')
    if not shutil.which('tmux'):
        mp.skip('first run in tmux', 'tmux is not installed (.ci/deps.sh)')
        mp.done()
    with mp.Netns('first') as ns:
        # The test's own sockets (pymysql, the collector) and the tmux server run in ns.
        mp.enter_netns(ns)
        # A loaded machine can take minutes to start mariadbd.
        db = mp.MariaDB(port=PORT, netns=ns, ready_timeout=240)
        db.sql('CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t VALUES '
               + ','.join(f'({i})' for i in range(10)))
        with mp.case('idle stderr, JSON into a pipe'):
            case_idle(ns)
        tm = Tmux()
        with mp.case('the table in a terminal'):
            case_table(tm)
        with mp.case('a failed attach, in one line'):
            case_attach_busy(ns)
        with mp.case('-o report on a terminal'):
            case_forced_json(tm)
        db.stop()
    mp.done()


if __name__ == '__main__':
    main()
