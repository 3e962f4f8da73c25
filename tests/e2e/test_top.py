#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""`mysqlprobe top` in tmux (send-keys, capture-pane) against a live agent on a real MariaDB
with the dashboard's known traffic: the same three templates with the same counts in the same
load order as the agent's reports; the sort keys, the filter prompt and the detail view (error
1146, slow samples); the agent going away (top says the link is down and comes back by
itself); a token it lacks (says so and keeps trying); no agent at all and a wrong token at
start (a clear message, exit 1); q quits (exit 0)."""
import os
import re
import shutil
import subprocess

import known
import mp
from known import FAIL_N, FAST_N, HTTP, SLOW_N, SLOW_SQL

URL = f'ws://127.0.0.1:{HTTP}/collector'
OUT = os.environ.get('MP_TEST_OUT') or os.path.join(mp.ROOT, 'build', 'test-output', 'test_top')
# One table row: #, load, count, rate, mean and p99 (number and unit), errors, rows, command,
# template (top_ui.c draw_overview()).
ROW_RE = re.compile(r'^\s*(\d+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+ \S+)\s+(\S+ \S+)\s+(\S+)\s+'
                    r'(\S+)\s+(query|execute|prepare|other)\s+(.*?)\s*$')


class Tmux:
    """A tmux server of our own (socket in a temp dir), 160x45, killed with its scope."""

    def __init__(self):
        self.sock = os.path.join(mp.tempdir('mp-tmux-'), 'sock')
        self.n = 0
        mp.defer(lambda: subprocess.run(self._argv('kill-server'), stderr=subprocess.DEVNULL),
                 'tmux server')

    def _argv(self, *a):
        return ['tmux', '-S', self.sock] + list(a)

    def run(self, cmd):
        """A new window running cmd (then 'EXIT=<status>', kept open); returns its name."""
        self.n += 1
        name = f'w{self.n}'
        shell = f'{cmd}; echo EXIT=$?; sleep 600'
        if self.n == 1:
            mp.sh(self._argv('new-session', '-d', '-x', '160', '-y', '45', '-s', 'mp', '-n',
                             name, shell))
        else:
            mp.sh(self._argv('new-window', '-t', 'mp', '-n', name, shell))
        return name

    def keys(self, win, *keys):
        mp.sh(self._argv('send-keys', '-t', f'mp:{win}', *keys))

    def screen(self, win):
        return mp.sh(self._argv('capture-pane', '-p', '-t', f'mp:{win}')).stdout

    def wait(self, win, cond, what, timeout=20):
        """Polls the pane until cond(text) is truthy; returns cond's value."""
        last = ['']

        def probe():
            last[0] = self.screen(win)
            return cond(last[0])
        v = mp.wait_until(probe, timeout=timeout, every=0.1)
        if not v:
            mp.diag(f'pane {win} while waiting for {what}:\n' + last[0])
        return v


def rows(text):
    """{template text: (position, count text, errors text, command)} of the table."""
    out = {}
    for line in text.splitlines():
        m = ROW_RE.match(line)
        if m and m.group(9) == 'query':
            out[m.group(10)] = (int(m.group(1)), m.group(3), m.group(7))
    return out


def texts(ids):
    """Our statements' template texts, as `mysqlprobe template` writes them."""
    r = {}
    for name, sql in known.SQL.items():
        r[name] = mp.sh([mp.BIN, 'template'], input=sql + '\n').stdout.split('\t')[1].strip()
    return r


def case_overview(tm, exp):
    tx = texts(exp)
    win = tm.run(f'{mp.BIN} top {URL}')

    def shown(text):
        r = rows(text)
        return all(tx[k] in r and r[tx[k]][1] == str(exp[k]['count']) for k in exp) and r
    r = tm.wait(win, shown, 'the three templates with their counts')
    mp.check(r, 'top shows the three templates with the counts of the reports',
             str(rows(tm.screen(win))))
    if not r:
        return win, tx
    order = [k for k in sorted(exp, key=lambda k: r[tx[k]][0])]
    want = sorted(exp, key=lambda k: -exp[k]['sum'])
    mp.check(order == want and order[0] == 'slow',
             'in the load order of the reports (slow first), as the page', f'{order} {want}')
    mp.check(r[tx['fail']][2] == str(FAIL_N), 'the failing template shows its errors',
             str(r[tx['fail']]))
    screen = tm.screen(win)
    mp.check('sort: load' in screen and (' µs' in screen or ' ms' in screen),
             'the sort is named and latencies carry units')
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, 'overview.txt'), 'w') as f:
        f.write(screen)

    tm.keys(win, 'c')
    r = tm.wait(win, lambda t: 'sort: count' in t and rows(t), 'sort by count')
    mp.check(r and min(r[tx[k]][0] for k in exp) == r[tx['fast']][0],
             'c sorts by count: the most frequent of ours comes first', str(r))
    tm.keys(win, 'e')
    r = tm.wait(win, lambda t: 'sort: errors' in t and rows(t), 'sort by errors')
    mp.check(r and r[tx['fail']][0] == 1, 'e sorts by errors: the failing one is first', str(r))
    tm.keys(win, 'l')

    tm.keys(win, '/')
    tm.wait(win, lambda t: 'filter (empty = all):' in t, 'the filter prompt')
    tm.keys(win, 'no_such', 'Enter')
    r = tm.wait(win, lambda t: 'filter: no_such' in t and rows(t), 'filtered rows')
    mp.check(r and list(r) == [tx['fail']], 'the filter keeps only matching templates', str(r))
    tm.keys(win, 'Enter')
    d = tm.wait(win, lambda t: 'error codes' in t and t, 'the detail view')
    mp.check(d and f'error 1146: {FAIL_N}' in d and tx['fail'] in d,
             'Enter shows the detail: the error code with its count')
    tm.keys(win, 'Escape')
    tm.wait(win, lambda t: 'TEMPLATE' in t, 'back to the overview')
    tm.keys(win, '/')
    tm.wait(win, lambda t: 'filter (empty = all):' in t, 'the filter prompt')
    tm.keys(win, 'SLEEP', 'Enter')
    tm.wait(win, lambda t: 'filter: SLEEP' in t and rows(t), 'filtered rows')
    tm.keys(win, 'Enter')
    d = tm.wait(win, lambda t: 'slow samples:' in t and t, 'the slow template detail')
    samples = [l for l in (d or '').splitlines() if l.rstrip().endswith(SLOW_SQL)]
    with open(os.path.join(OUT, 'detail.txt'), 'w') as f:
        f.write(d or '')
    mp.check(d and f'slow samples: {SLOW_N}' in d and len(samples) == SLOW_N and
             'latency histogram' in d, 'the detail lists the slow samples with their SQL',
             '\n'.join(samples))
    tm.keys(win, 'Escape')
    tm.keys(win, '/')
    tm.wait(win, lambda t: 'filter (empty = all):' in t, 'the filter prompt')
    tm.keys(win, 'Enter')
    r = tm.wait(win, lambda t: 'filter: (none)' in t and len(rows(t)) >= 3, 'all rows again')
    mp.check(r, 'an empty filter shows every template again')
    return win, tx


def case_link(ns, tm, win, agent, exp, tx):
    agent.stop()
    s = tm.wait(win, lambda t: 'link down:' in t and t, 'the link down line')
    mp.check(s and 'retrying' in s, 'the agent gone: top says the link is down and retries')
    mp.check(s and rows(s).get(tx['fast'], (0, ''))[1] == str(FAST_N),
             'the counts stay on screen meanwhile')
    tok = mp.tempdir('mp-top-token-')
    with open(os.path.join(tok, 'token'), 'w') as f:
        f.write('s3cret-top\n')
    a2 = known.agent(ns, ['--http.token_file', os.path.join(tok, 'token')])
    s = tm.wait(win, lambda t: 'refused the token' in t and t, 'the token message')
    mp.check(s and 'HTTP 401' in s and 'retrying' in s,
             'an agent with a token top lacks: top says so and keeps trying')
    a2.stop()
    known.agent(ns)
    s = tm.wait(win, lambda t: 'link down' not in t and '\nlive' in t and t, 'live again')
    mp.check(s, 'the agent back without a token: top is live again by itself')
    tm.keys(win, 'q')
    s = tm.wait(win, lambda t: 'EXIT=' in t and t, 'top to quit')
    mp.check(s and 'EXIT=0' in s, 'q quits with status 0')


def case_start_fails(ns, tm):
    """At start, top either connects or says why and exits 1."""
    w = tm.run(f'{mp.BIN} top ws://127.0.0.1:1/collector')
    s = tm.wait(w, lambda t: 'EXIT=' in t and t, 'top to give up')
    mp.check(s and 'cannot connect to ws://127.0.0.1:1/collector' in s and 'EXIT=1' in s,
             'nothing listening: a clear message and exit 1', s)
    tok = mp.tempdir('mp-top-token-')
    with open(os.path.join(tok, 'token'), 'w') as f:
        f.write('s3cret-top\n')
    with open(os.path.join(tok, 'wrong'), 'w') as f:
        f.write('wrong\n')
    known.agent(ns, ['--http.token_file', os.path.join(tok, 'token')])
    w = tm.run(f'{mp.BIN} top --token-file {tok}/wrong {URL}')
    s = tm.wait(w, lambda t: 'EXIT=' in t and t, 'top to give up')
    mp.check(s and 'refused the token' in s and 'EXIT=1' in s,
             'a wrong token at start: a clear message and exit 1', s)
    w = tm.run(f'{mp.BIN} top --token-file {tok}/token {URL}')
    s = tm.wait(w, lambda t: 'TEMPLATE' in t and '\nlive' in t and t, 'top live')
    mp.check(s, 'the right token: top is live')
    tm.keys(w, 'q')


def case_bad_report(tm):
    """A peer whose message is not a report: top says so and stays (the link is not at fault)."""
    peer = known.BadPeer('{"version": 2, "seq": "not a number"')
    w = tm.run(f'{mp.BIN} top ws://127.0.0.1:{peer.port}/collector')
    s = tm.wait(w, lambda t: 'was not a report' in t and t, 'the bad report note')
    mp.check(s, 'a message that is not a report: top says so', s or tm.screen(w))
    mp.check(mp.wait_until(lambda: peer.conns >= 2, timeout=30),
             'and keeps trying when the peer hangs up', f'{peer.conns} connection(s)')
    tm.keys(w, 'q')


def main():
    mp.need_root('top in tmux (namespace, BPF)')
    if not shutil.which('tmux'):
        mp.skip('top in tmux', 'tmux is not installed (.ci/deps.sh)')
        mp.done()
    with mp.Netns('top') as ns:
        mp.enter_netns(ns)
        db, agent = known.start(ns)
        exp = known.traffic_and_expect()
        tm = Tmux()
        win = tx = None
        with mp.case('overview, sort, filter, detail'):
            win, tx = case_overview(tm, exp)
        if win:
            with mp.case('link down, token, quit'):
                case_link(ns, tm, win, agent, exp, tx)
        with mp.case('start fails'):
            case_start_fails(ns, tm)
        with mp.case('bad report'):
            case_bad_report(tm)
        db.stop()
    mp.done()


if __name__ == '__main__':
    main()
