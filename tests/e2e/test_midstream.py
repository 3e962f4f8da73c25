#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The agent started while connections are already busy: statements issued after it is ready
are reported exactly once, executes of statements prepared before it have `sql: null` and are
counted as unknown_stmt, and the window after ready matches the server's own counters.

Five connections are open and busy before the agent starts: three pymysql ones (a 2 MB result
set read slowly, so one is always in flight; SELECT SLEEP; small result sets) and two sysbench
threads (libmariadb) that prepared a statement with the binary protocol before the agent
started and execute it in a loop (60 kB binary result sets). The agent therefore joins in the
middle of a packet, and in the middle of responses whose requests it never saw. Each client runs a
small state machine driven by files in a control directory:

  busy (until 'quiet') -> quiet.<who> -> waits for 'mark' -> markers -> done.<who> -> 'end'

so the test knows when every connection is idle, snapshots SHOW GLOBAL STATUS over the unix
socket (never captured), lets the markers run, and snapshots again. The same traffic is
captured by tcpdump; the capture is cut to start in the middle of the busy phase and replayed.
"""
import collections
import json
import os
import subprocess
import time

import mp

PORT = 3315
PY_CONNS = 3
SB_THREADS = 2
MARKS = 12  # marker statements per connection

PY_DRIVER = r'''
import os, sys, threading, time
import pymysql
P, CTL, N, M = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
def path(n): return os.path.join(CTL, n)
def touch(n): open(path(n), 'w').close()
def wait_for(n):
    while not os.path.exists(path(n)):
        time.sleep(0.005)
BUSY = [None, "SELECT SLEEP(0.05)", "SELECT seq FROM seq_1_to_100"]
SLOW = "SELECT seq, REPEAT('x', 1000) FROM seq_1_to_2000"
def slow_read(c):
    # Unbuffered and read slowly: the server blocks on a full socket, so a 2 MB result is
    # always in flight, and the agent starts in the middle of one of its packets.
    cur = c.cursor(pymysql.cursors.SSCursor)
    cur.execute(SLOW)
    n = 0
    for _ in cur:
        n += 1
        if n % 20 == 0 and not os.path.exists(path('quiet')):
            time.sleep(0.01)
    assert n == 2000
    cur.close()
def run(i):
    c = pymysql.connect(host='127.0.0.1', port=P, user='mp', password='mp', database='mp',
                        autocommit=True)
    cur = c.cursor()
    k = 0
    while not os.path.exists(path('quiet')):
        if i == 0:
            slow_read(c)
        else:
            cur.execute(BUSY[i])
            cur.fetchall()
            time.sleep(0.005)  # a rate, not a synchronisation
        k += 1
        if k == 1:
            touch('busy.py%d' % i)
    touch('quiet.py%d' % i)
    wait_for('mark')
    for j in range(1, M + 1):
        n = 1000 * (i + 1) + j
        cur.execute("SELECT seq, %d AS mark FROM seq_1_to_%d /* mark %d */" % (n, j, n))
        assert len(cur.fetchall()) == j
    touch('done.py%d' % i)
    wait_for('end')
    c.close()
ts = [threading.Thread(target=run, args=(i,)) for i in range(N)]
for t in ts: t.start()
for t in ts: t.join()
'''

SB_DRIVER = r'''
ffi.cdef[[int usleep(unsigned int usec);]]
local ctl = os.getenv('MP_CTL')
local M = tonumber(os.getenv('MP_MARKS'))
local function exists(n)
   local f = io.open(ctl .. '/' .. n)
   if f then f:close() return true end
   return false
end
local function touch(n) assert(io.open(ctl .. '/' .. n, 'w')):close() end
local function wait_for(n) while not exists(n) do ffi.C.usleep(5000) end end

function thread_init()
   drv = sysbench.sql.driver()
   con = drv:connect()
   big = con:prepare("SELECT seq, REPEAT('y', 200) FROM seq_1_to_100000 WHERE seq <= ?")
   arg = big:bind_create(sysbench.sql.type.INT)
   big:bind_param(arg)
   busy = 0
end

function event(tid)
   if not exists('quiet') then
      arg:set(300 + tid)
      big:execute()
      ffi.C.usleep(5000) -- a rate, not a synchronisation
      busy = busy + 1
      if busy == 1 then touch('busy.sb' .. tid) end
      return
   end
   touch('quiet.sb' .. tid)
   wait_for('mark')
   -- executes of the statement prepared before the agent started: rows_sent tells them apart
   for j = 1, M do
      arg:set(tid * M + j)
      big:execute()
   end
   -- a statement prepared after the start: its text is known
   local fresh = con:prepare("SELECT seq FROM seq_1_to_10 WHERE seq <= ? /* fresh " .. tid .. " */")
   local a2 = fresh:bind_create(sysbench.sql.type.INT)
   fresh:bind_param(a2)
   a2:set(tid + 1)
   fresh:execute()
   fresh:close()
   con:query("SELECT " .. (9000 + tid) .. " /* mark sb */")
   touch('done.sb' .. tid)
   wait_for('end')
   return true
end
'''

STATUS = ('Com_select', 'Com_stmt_execute', 'Com_stmt_prepare', 'Com_stmt_close', 'Questions')


def py_markers():
    """sql -> rows_sent of every pymysql marker."""
    out = {}
    for i in range(PY_CONNS):
        for j in range(1, MARKS + 1):
            n = 1000 * (i + 1) + j
            out[f'SELECT seq, {n} AS mark FROM seq_1_to_{j} /* mark {n} */'] = j
    for t in range(SB_THREADS):
        out[f'SELECT {9000 + t} /* mark sb */'] = 1
    return out



def cut_pcap(src, dst, t_cut):
    """Writes the packets of src captured at or after t_cut (epoch seconds) to dst: a capture
    that starts in the middle of the busy phase, mid-packet in every busy connection."""
    linktype, nano, recs = mp.read_pcap(src)
    unit = 1e9 if nano else 1e6
    first = next(i for i, r in enumerate(recs) if r[0] + r[1] / unit >= t_cut)
    mp.write_pcap(dst, linktype, nano, recs[first:])
    return first, len(recs) - first


def run_workload(ns, ctl):
    """Starts both drivers; returns their processes once every connection is busy."""
    py = mp.spawn(['/usr/bin/python3', '-c', PY_DRIVER, str(PORT), ctl, str(PY_CONNS),
                   str(MARKS)], netns=ns, what='python driver',
                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lua = os.path.join(ctl, 'drv.lua')
    with open(lua, 'w') as f:
        f.write(SB_DRIVER)
    env = dict(os.environ, MP_CTL=ctl, MP_MARKS=str(MARKS))
    sb = mp.spawn(['sysbench', lua, '--db-driver=mysql', '--mysql-host=127.0.0.1',
                   f'--mysql-port={PORT}', '--mysql-user=mp', '--mysql-password=mp',
                   '--mysql-db=mp', '--db-ps-mode=auto', f'--threads={SB_THREADS}',
                   '--time=120', '--events=0', 'run'], netns=ns, what='sysbench driver',
                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    who = [f'py{i}' for i in range(PY_CONNS)] + [f'sb{i}' for i in range(SB_THREADS)]

    def all_of(stage):
        for p in (py, sb):
            if p.poll() is not None:
                raise RuntimeError(f'driver exited {p.returncode}: {p.stdout.read()[-2000:]}')
        return all(os.path.exists(os.path.join(ctl, f'{stage}.{w}')) for w in who)
    return py, sb, all_of


def main():
    mp.need_root('agent joining busy connections (namespace, BPF)')
    ctl = mp.tempdir('mp-mid-', mode=0o777)
    pcap, cut = os.path.join(ctl, 'all.pcap'), os.path.join(ctl, 'cut.pcap')
    touch = lambda n: open(os.path.join(ctl, n), 'w').close()  # noqa: E731
    ns = mp.Netns('mid')
    db = mp.MariaDB(port=PORT, netns=ns)

    def status():
        rows = db.sql('SHOW GLOBAL STATUS WHERE Variable_name IN (%s)' %
                      ','.join(f"'{s}'" for s in STATUS), socket=True, db=None)
        return {k: int(v) for k, v in rows}
    dump = mp.Tcpdump(pcap, [PORT], netns=ns)
    py, sb, all_of = run_workload(ns, ctl)
    mp.poll(lambda: all_of('busy'), timeout=30, what='every connection busy')
    agent = mp.Agent(['-i', 'lo', '-p', str(PORT), '-o', 'events'], netns=ns)
    agent.wait_ready()
    t_ready = time.time()
    # Some busy traffic decoded after the join, then every connection goes idle.
    mp.poll(lambda: len(agent.lines) >= 20, timeout=20, what='events after the join')
    touch('quiet')
    mp.poll(lambda: all_of('quiet'), timeout=30, what='every connection idle')
    t0, s0 = time.time(), status()
    touch('mark')
    mp.poll(lambda: all_of('done'), timeout=30, what='markers done')
    s1, t1 = status(), time.time()
    touch('end')
    py_out = py.communicate(timeout=30)[0]
    sb_out = sb.communicate(timeout=30)[0]
    mp.check(py.returncode == 0 and sb.returncode == 0, 'both drivers ran cleanly',
             f'py {py.returncode} {py_out[-500:]} sb {sb.returncode} {sb_out[-800:]}')
    want = len(py_markers()) + SB_THREADS * (MARKS + 3)
    mp.wait_until(lambda: len([l for l in agent.lines if '/* mark' in l]) >=
                  len(py_markers()), timeout=10, what='marker events')
    rc = agent.stop()
    dump_err = dump.stop()
    db.stop()
    ns.close()
    events = agent.json_lines()
    dec = mp.agent_counters(agent.err, 'decode')
    mp.diag(f'{len(events)} events; {[l for l in agent.err if "decode:" in l]}')
    mp.check(rc == 0, 'agent exits 0', f'rc={rc}')
    mp.check(dec.get('midstream') == PY_CONNS + SB_THREADS and
             dec.get('connections') == PY_CONNS + SB_THREADS,
             f'all {PY_CONNS + SB_THREADS} connections joined mid-stream, none new',
             f'connections={dec.get("connections")} midstream={dec.get("midstream")}')

    # Every marker exactly once, with its rows.
    markers = py_markers()
    seen = collections.Counter(e['sql'] for e in events if e['sql'] in markers)
    rows_ok = all(e['rows_sent'] == markers[e['sql']] and e['status'] == 'ok'
                  for e in events if e['sql'] in markers)
    mp.check(set(seen) == set(markers) and set(seen.values()) == {1} and rows_ok,
             f'every text marker after ready appears once with its rows ({len(markers)})',
             f'missing {sorted(set(markers) - set(seen))[:5]} '
             f'dup {[s for s, c in seen.items() if c > 1][:5]} rows_ok {rows_ok}')
    py_user = [e for e in events if e['sql'] in markers and 'mark sb' not in e['sql']]
    mp.check(all(e['user'] is None and e['db'] is None and e['conn_id'] is None
                 for e in py_user),
             'user, db and conn_id unknown on connections joined mid-stream',
             str(py_user[:1])[:300])

    # Executes of the statement prepared before the start: sql null, told apart by rows.
    execs = [e for e in events if e['command'] == 'execute']
    unknown = [e for e in execs if e['sql'] is None]
    marks = collections.Counter(e['rows_sent'] for e in unknown
                                if 1 <= e['rows_sent'] <= SB_THREADS * MARKS)
    busy_rows = {300 + t for t in range(SB_THREADS)}
    odd = [e['rows_sent'] for e in unknown
           if e['rows_sent'] not in busy_rows and not 1 <= e['rows_sent'] <= SB_THREADS * MARKS]
    mp.check(set(marks) == set(range(1, SB_THREADS * MARKS + 1)) and
             set(marks.values()) == {1} and not odd,
             f'every execute marker appears once with sql null and its rows '
             f'({SB_THREADS * MARKS})',
             f'got {sorted(marks.items())[:8]} odd rows {odd[:5]}')
    mp.check(dec.get('unknown_stmt') == len(unknown) and len(unknown) >= SB_THREADS * MARKS,
             'unknown_stmt counts exactly the executes with sql null',
             f'unknown_stmt={dec.get("unknown_stmt")} events={len(unknown)}')
    fresh = [e for e in execs if e['sql'] and '/* fresh' in e['sql']]
    mp.check(sorted(e['rows_sent'] for e in fresh) == list(range(1, SB_THREADS + 1)) and
             len([e for e in events if e['command'] == 'prepare']) == SB_THREADS,
             'a statement prepared after the start is executed with its text',
             str(fresh)[:300])

    # No event with wrong content: every known busy statement has its full row count.
    busy_want = {"SELECT seq, REPEAT('x', 1000) FROM seq_1_to_2000": 2000,
                 'SELECT SLEEP(0.05)': 1, 'SELECT seq FROM seq_1_to_100': 100}
    busy = [e for e in events if e['sql'] in busy_want]
    bad = [(e['sql'][:30], e['rows_sent']) for e in busy if e['rows_sent'] != busy_want[e['sql']]]
    mp.check(len(busy) > 0 and not bad,
             f'busy statements decoded after the join carry their full rows ({len(busy)})',
             f'bad {bad[:5]}')
    other = [e for e in events if e['sql'] not in busy_want and e['sql'] not in markers and
             e['command'] not in ('execute', 'prepare', 'stmt_close', 'quit')]
    mp.check(not other, 'no event that was never sent', str(other[:3])[:300])

    # The window between the two snapshots against the server's own counters.
    d = {k: s1[k] - s0[k] for k in s0}
    win = [e for e in events if t0 * 1e6 <= e['ts_us'] <= t1 * 1e6]
    by = collections.Counter(e['command'] for e in win)
    mp.diag(f'server deltas {d}; agent window {dict(by)}')
    mp.check(d['Com_stmt_execute'] == by['execute'] == SB_THREADS * (MARKS + 1),
             'executes in the window equal Com_stmt_execute',
             f'{by["execute"]} vs {d["Com_stmt_execute"]}')
    mp.check(d['Com_stmt_prepare'] == by['prepare'] == SB_THREADS and
             d['Com_stmt_close'] == by['stmt_close'] == SB_THREADS,
             'prepares and closes in the window equal the server\'s')
    mp.check(d['Com_select'] - d['Com_stmt_execute'] == by['query'] == len(markers),
             'text queries in the window equal Com_select (executes counted apart)',
             f'{by["query"]} vs {d["Com_select"]} - {d["Com_stmt_execute"]}')
    mp.check(len(win) == want, f'nothing else in the window ({want} events)', str(len(win)))

    # Replay of the capture cut to start in the middle of the busy phase.
    mp.check(mp.tcpdump_dropped(dump_err) == 0,
             'tcpdump captured every packet (else the replay is moot)',
             dump_err.strip()[-200:])
    dropped, kept = cut_pcap(pcap, cut, (t_ready + t0) / 2 if t0 > t_ready else t_ready)
    r = subprocess.run([mp.BIN, '-r', cut, '-p', str(PORT), '-o', 'events'], text=True,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    rev = [json.loads(l) for l in r.stdout.splitlines() if l.startswith('{')]
    rdec = mp.agent_counters(r.stderr.splitlines(), 'decode')
    mp.diag(f'cut capture: {dropped} packets dropped, {kept} kept; {rdec}')
    rseen = collections.Counter(e['sql'] for e in rev if e['sql'] in markers)
    rexec = collections.Counter(e['rows_sent'] for e in rev
                                if e['command'] == 'execute' and e['sql'] is None and
                                1 <= e['rows_sent'] <= SB_THREADS * MARKS)
    mp.check(r.returncode == 0 and set(rseen) == set(markers) and set(rseen.values()) == {1} and
             all(e['rows_sent'] == markers[e['sql']] for e in rev if e['sql'] in markers),
             'replay of a capture cut mid-stream reports every text marker once',
             f'rc {r.returncode} missing {sorted(set(markers) - set(rseen))[:5]}')
    mp.check(set(rexec) == set(range(1, SB_THREADS * MARKS + 1)) and
             set(rexec.values()) == {1} and rdec.get('unknown_stmt', 0) >= SB_THREADS * MARKS,
             'replay reports every execute marker once, sql null, counted unknown_stmt',
             f'{sorted(rexec.items())[:6]} {rdec.get("unknown_stmt")}')
    rwin = collections.Counter((e['command'], e['sql'], e['rows_sent'], e['status']) for e in rev
                               if t0 * 1e6 <= e['ts_us'] <= t1 * 1e6)
    lwin = collections.Counter((e['command'], e['sql'], e['rows_sent'], e['status']) for e in win)
    mp.check(rwin == lwin, f'the replayed window equals the live one ({sum(lwin.values())})',
             f'only live {list((lwin - rwin).items())[:3]} '
             f'only replay {list((rwin - lwin).items())[:3]}')
    mp.done()


if __name__ == '__main__':
    main()
