#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Bad input never crashes the agent, is counted, and does not stop later good connections
from being decoded.

Live (a namespace of our own, the agent watching MariaDB's port and a plain TCP listener's):
random bytes and HTTP on both ports, garbage written into an established MySQL session, then
good statements that must all be decoded. Live with --snaplen 64: exactly the statements whose
request and response both fit in 64 bytes are reported answered, those whose request fits but
whose response does not are reported unanswered (flag response_lost), nothing else. Replay: a real capture
rewritten with reordered and duplicated segments gives the same events as the original, and a
capture with random-payload connections added gives the original's events and no others.
"""
import collections
import json
import os
import random
import subprocess

import mp

PORT = 3316
JUNK_PORT = 3326  # the plain TCP listener the agent also takes for MySQL
SEED = 3316
# Counting connections that never open like MySQL needs the flow's SYN passed to the decoder
# (pipeline.c calling mysql_conn_opened) and skipped_bytes on the decode line (main.c).
NEEDS_LEAD = 'the decode line has no skipped_bytes: main.c/pipeline.c lines not applied yet'

LISTENER = r'''
import random, socket, sys, threading
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', int(sys.argv[1])))
s.listen(64)
print('listening', flush=True)
def serve(c, n):
    rnd = random.Random(n)
    data = b''
    while True:
        b = c.recv(65536)
        if not b:
            break
        data += b
        if data.startswith(b'GET '):
            if b'\r\n\r\n' in data:
                c.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello')
                break
        else:
            c.sendall(rnd.randbytes(rnd.randint(1, 3000)))
    c.close()
n = 0
while True:
    c, _ = s.accept()
    n += 1
    threading.Thread(target=serve, args=(c, n), daemon=True).start()
'''

BAD_CLIENT = r'''
import random, socket, sys
import pymysql
P, J, SEED = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
rnd = random.Random(SEED)
HTTP = b'GET /index.html HTTP/1.1\r\nHost: localhost\r\nUser-Agent: curl/8\r\n\r\n'
def talk(port, chunks, banner=False):
    s = socket.create_connection(('127.0.0.1', port))
    s.settimeout(10)
    try:
        if banner:
            s.recv(65536)  # a scanner reading the greeting before it speaks
        for ch in chunks:
            s.sendall(ch)
        s.shutdown(socket.SHUT_WR)
        while s.recv(65536):  # until the peer closes
            pass
    except OSError:
        pass  # reset or closed by the peer before it read them all
    s.close()
for port in (J, P):
    for i in range(8):
        talk(port, [rnd.randbytes(rnd.randint(1, 20000)) for _ in range(rnd.randint(1, 4))],
             banner=port == P and i % 2 == 1)
    talk(port, [HTTP])
talk(P, [HTTP], banner=True)
# Garbage inside an established, authenticated session: the server gives up on it.
c = pymysql.connect(host='127.0.0.1', port=P, user='mp', password='mp', database='mp',
                    autocommit=True)
c.cursor().execute("SELECT 'before garbage'")
try:
    c._sock.sendall(b'\x05\x00\x00\x00' + rnd.randbytes(5) + rnd.randbytes(3000))
    c._sock.shutdown(socket.SHUT_WR)
    while c._sock.recv(65536):
        pass
except OSError:
    pass  # the server may drop the session before it read everything
c._sock.close()
'''

GOOD_CLIENT = r'''
import sys
import pymysql
c = pymysql.connect(host='127.0.0.1', port=int(sys.argv[1]), user='mp', password='mp',
                    database='mp', autocommit=True)
cur = c.cursor()
for n in range(1, 21):
    cur.execute("SELECT %d, 'good'" % n)
cur.execute("SELECT seq FROM seq_1_to_500")
assert len(cur.fetchall()) == 500
c.close()
'''

# --snaplen 64: requests and responses that fit (OK: 11 bytes; this ERR: 59), and ones that
# do not (a 150-byte result set, a 100-byte request).
FIT = ['DO %d' % n for n in range(1, 11)] + ['SET @v = %d' % n for n in range(1, 11)] + \
      ['SELECT * FROM no_such_table']
NO_FIT = ["SELECT %d, REPEAT('z', 100)" % n for n in range(1, 6)] + \
         ['DO %d /* %s */' % (n, 'p' * 90) for n in range(1, 6)]
SNAP_CLIENT = r'''
import sys, json
import pymysql
c = pymysql.connect(host='127.0.0.1', port=int(sys.argv[1]), user='mp', password='mp',
                    database='mp', autocommit=True)
cur = c.cursor()
for q in json.loads(sys.argv[2]):
    try:
        cur.execute(q)
        cur.fetchall()
    except pymysql.MySQLError:
        pass
c.close()
'''

# Traffic for the rewritten captures: requests and results spanning many segments, on two
# connections at once.
REPLAY_CLIENT = r'''
import sys, threading
import pymysql
def run(i):
    c = pymysql.connect(host='127.0.0.1', port=int(sys.argv[1]), user='mp', password='mp',
                        database='mp', autocommit=True)
    cur = c.cursor()
    for k in range(3):
        cur.execute("SELECT LENGTH('" + chr(97 + i) * (200000 + k) + "')")
        cur.execute("SELECT seq, REPEAT('r', 300) FROM seq_1_to_%d" % (3000 + 100 * i + k))
        for n in range(10):
            cur.execute("SELECT %d, %d" % (i, n))
    try:
        cur.execute("SELECT * FROM no_such_table")
    except pymysql.MySQLError:
        pass
    c.close()
ts = [threading.Thread(target=run, args=(i,)) for i in range(2)]
for t in ts: t.start()
for t in ts: t.join()
'''



def replay(path):
    """(return code, events, decode counters) of `-r path`."""
    r = subprocess.run([mp.BIN, '-r', path, '-p', str(PORT), '-o', 'events'], text=True,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    ev = [json.loads(l) for l in r.stdout.splitlines() if l.startswith('{')]
    return r.returncode, ev, mp.agent_counters(r.stderr.splitlines(), 'decode'), r.stderr


def what(e):
    """An event without its timings: a segment delivered later moves them a little."""
    return (e['client'], e['command'], e['sql'], e['status'], e['error_code'], e['rows_sent'],
            e['rows_affected'], e['bytes_in'], e['bytes_out'])


# ---------------------------------------------------------------- live
def live_bad(ns):
    """Random bytes and HTTP on both ports, garbage in a session, then good statements."""
    listener = mp.spawn(['/usr/bin/python3', '-c', LISTENER, str(JUNK_PORT)], netns=ns,
                        stdout=subprocess.PIPE, text=True)
    if listener.stdout.readline().strip() != 'listening':
        raise RuntimeError('listener did not start')
    agent = mp.Agent(['-i', 'lo', '-p', f'{PORT},{JUNK_PORT}', '-o', 'events'], netns=ns)
    agent.wait_ready()
    mp.run_py(ns, BAD_CLIENT, PORT, JUNK_PORT, SEED)
    alive = agent.proc.poll() is None
    mp.run_py(ns, GOOD_CLIENT, PORT)
    want = {f"SELECT {n}, 'good'": 1 for n in range(1, 21)}
    want['SELECT seq FROM seq_1_to_500'] = 500
    mp.wait_until(lambda: sum(1 for l in agent.lines if 'seq_1_to_500' in l), timeout=10,
                  what='the good statements')
    alive = alive and agent.proc.poll() is None
    rc = agent.stop()
    mp.stop_process(listener)
    events = agent.json_lines()
    dec = mp.agent_counters(agent.err, 'decode')
    mp.diag(f'live garbage: {len(events)} events; {dec}')
    mp.check(alive and rc == 0, 'random bytes and HTTP on both ports: the agent stays up, exits 0',
             f'alive {alive} rc {rc} {agent.err[-3:]}')
    good = [e for e in events if e['sql'] in want]
    seen = collections.Counter(e['sql'] for e in good)
    mp.check(seen == collections.Counter(want.keys()) and
             all(e['rows_sent'] == want[e['sql']] and e['user'] == 'mp' and e['db'] == 'mp'
                 for e in good),
             f'the good connection after them is decoded: {len(want)} statements, rows, user, db',
             f'seen {dict(seen)}')
    mp.check(any(e['sql'] == "SELECT 'before garbage'" for e in events),
             'the session that then sent garbage was decoded until then')
    other = [e for e in events if e['sql'] not in want and e['sql'] != "SELECT 'before garbage'"
             and e['command'] != 'quit']
    mp.check(not other and dec.get('connections') == 21,
             'no event made up from garbage; all 21 connections tracked',
             f'{[(e["server"], e["command"], e["sql"]) for e in other][:5]} {dec}')
    # Each connection that read MariaDB's greeting and answered with garbage is one error
    # (4 random, 1 HTTP), and so is the garbage in the established session.
    mp.check(dec.get('decode_errors', 0) >= 6,
             'garbage answering the greeting: one decode error per connection at least',
             str(dec))
    if 'skipped_bytes' not in dec:
        mp.skip('every garbage connection counted', NEEDS_LEAD)
    else:
        # 9 to the listener, 6 to MariaDB that spoke first or answered the greeting, 1 in a
        # session: all seen from their SYN, none opened like MySQL.
        mp.check(dec['decode_errors'] >= 19 and dec['skipped_bytes'] > 10000,
                 'every garbage connection counted: decode_errors >= 19, skipped_bytes',
                 str(dec))
    return dec


def live_snaplen(ns):
    """--snaplen 64: what fits is reported exactly, what does not is never reported wrong."""
    agent = mp.Agent(['-i', 'lo', '-p', str(PORT), '-o', 'events', '--snaplen', '64'],
                     netns=ns)
    agent.wait_ready()
    mp.run_py(ns, SNAP_CLIENT, PORT, json.dumps(FIT + NO_FIT))
    alive = agent.proc.poll() is None
    mp.wait_until(lambda: any('no_such_table' in l for l in agent.lines), timeout=10,
                  what='the last statement that fits')
    rc = agent.stop()
    events = agent.json_lines()
    dec, cap = mp.agent_counters(agent.err, 'decode'), mp.agent_counters(agent.err, 'capture')
    mp.diag(f'snaplen 64: {len(events)} events; {dec}; {cap}')
    mp.check(alive and rc == 0, '--snaplen 64: the agent stays up, exits 0', f'rc {rc}')
    answered = [e for e in events if e['command'] == 'query' and e['status'] != 'unanswered']
    queries = [e['sql'] for e in answered]
    mp.check(queries == FIT,
             f'--snaplen 64: exactly the {len(FIT)} statements whose request and response fit '
             f'are reported answered, in order', f'got {queries}')
    # A request that fits whose response the snap length cut: seen, its answer unknown.
    lost = [e for e in events if e['status'] == 'unanswered']
    mp.check([e['sql'] for e in lost] == NO_FIT[:5] and
             all('response_lost' in e['flags'] and e['command'] == 'query' for e in lost),
             '--snaplen 64: the requests that fit whose response did not are reported '
             'unanswered, flagged response_lost; the requests that did not fit are not reported',
             f'got {[(e["sql"], e["flags"]) for e in lost]}')
    fit = answered
    err = [e for e in fit if e['sql'] == 'SELECT * FROM no_such_table']
    mp.check(all(e['status'] == 'ok' and e['rows_sent'] == 0 for e in fit if e not in err) and
             len(err) == 1 and err[0]['error_code'] == 1146 and err[0]['sqlstate'] == '42S02',
             '--snaplen 64: their status, rows and error code are right')
    # Cut: greeting, handshake response, the 5 result sets and the 5 long requests at least.
    mp.check(cap.get('truncated', 0) >= 12 and dec.get('gaps', 0) >= 12,
             '--snaplen 64: truncated segments counted, each a gap', f'{cap} {dec}')


# ---------------------------------------------------------------- rewritten captures
def flows(recs):
    """Per (client port, dir): indices of the records carrying payload, in file order."""
    out = collections.defaultdict(list)
    for i, r in enumerate(recs):
        t = mp.tcp_of(r[4])
        if t and t[7]:
            out[(t[2], t[3])].append(i)
    return out


def reorder_dup(recs, rnd):
    """Swaps adjacent payload segments of one direction that were in flight together (no
    payload of the other direction between them) and duplicates others; every record keeps
    its timestamp slot, so time still runs forward. Returns (records, swaps, dups)."""
    recs = list(recs)
    fl = flows(recs)
    swaps = dups = 0
    for (sp, dp), idx in fl.items():
        opp = fl.get((dp, sp), [])
        k = 0
        while k + 1 < len(idx):
            a, b = idx[k], idx[k + 1]
            if not any(a < o < b for o in opp) and rnd.random() < 0.5:
                ra, rb = recs[a], recs[b]
                recs[a], recs[b] = ra[:2] + rb[2:], rb[:2] + ra[2:]
                swaps += 1
                k += 2
            else:
                k += 1
    out = []
    for i, r in enumerate(recs):
        out.append(r)
        t = mp.tcp_of(r[4])
        if t and t[7] and rnd.random() < 0.15:
            out.append(r)  # a retransmission of bytes already delivered
            dups += 1
    return out, swaps, dups


def garbage_flows(recs, rnd, n=12):
    """recs with n connections of random payloads (no handshake, some with a SYN, HTTP in
    one) to the MySQL port interleaved; their client addresses are 10.9.9.x."""
    out = list(recs)
    for c in range(n):
        src, sport = f'10.9.9.{c + 1}', 40000 + c
        cseq, sseq = rnd.getrandbits(32), rnd.getrandbits(32)
        at = rnd.randrange(len(out))
        s0, f0 = out[at][0], out[at][1]
        frames = []
        if c % 3 == 0:
            frames.append(mp.tcp_frame(src, '127.0.0.1', sport, PORT, cseq, 0, 0x02, b''))
            frames.append(mp.tcp_frame('127.0.0.1', src, PORT, sport, sseq, cseq + 1, 0x12,
                                       b''))
            cseq, sseq = cseq + 1, sseq + 1
        for k in range(rnd.randint(1, 6)):
            if c == 5 and k == 0:
                p = b'GET / HTTP/1.1\r\nHost: x\r\n\r\n'
            else:
                p = rnd.randbytes(rnd.randint(1, 1400))
            if rnd.random() < 0.5:
                frames.append(mp.tcp_frame(src, '127.0.0.1', sport, PORT, cseq, sseq, 0x18, p))
                cseq += len(p)
            else:
                frames.append(mp.tcp_frame('127.0.0.1', src, PORT, sport, sseq, cseq, 0x18, p))
                sseq += len(p)
        if c % 2:
            frames.append(mp.tcp_frame(src, '127.0.0.1', sport, PORT, cseq, sseq, 0x04, b''))
        for j, fr in enumerate(frames):
            out.insert(at + j, (s0, f0, len(fr), len(fr), fr))
    return out


def replays(ns, tmp):
    pcap = os.path.join(tmp, 'orig.pcap')
    dump = mp.Tcpdump(pcap, [PORT], netns=ns)
    mp.run_py(ns, REPLAY_CLIENT, PORT)
    dump_err = dump.stop()
    mp.check(mp.tcpdump_dropped(dump_err) == 0, 'tcpdump captured every packet',
             dump_err.strip()[-200:])
    rc0, ev0, dec0, _ = replay(pcap)
    mp.diag(f'original capture: {len(ev0)} events; {dec0}')
    mp.check(rc0 == 0 and len(ev0) == 2 * 38 and dec0.get('out_of_order') == 0 and
             dec0.get('gaps') == 0,
             'the original capture replays in order, without gaps',
             f'rc {rc0} {len(ev0)} events {dec0}')

    linktype, nano, recs = mp.read_pcap(pcap)
    rnd = random.Random(SEED)
    mod, swaps, dups = reorder_dup(recs, rnd)
    path = os.path.join(tmp, 'reordered.pcap')
    mp.write_pcap(path, linktype, nano, mod)
    rc, ev, dec, err = replay(path)
    mp.diag(f'reordered capture: {swaps} swaps, {dups} duplicates; {dec}')
    only = collections.Counter(map(what, ev0)) - collections.Counter(map(what, ev))
    mp.check(rc == 0 and [what(e) for e in ev] == [what(e) for e in ev0],
             'reordered and duplicated segments: the same events as the original',
             f'rc {rc} {len(ev)} vs {len(ev0)} only in the original {list(only.items())[:2]}')
    mp.check(dec.get('out_of_order', 0) > 0 and
             dec.get('retransmits', 0) > dec0.get('retransmits', 0) and
             dec.get('gaps') == 0 and dec.get('decode_errors') == 0,
             'out_of_order and retransmits counted, no gaps, no decode errors', str(dec))

    mod = garbage_flows(recs, rnd)
    path = os.path.join(tmp, 'garbage.pcap')
    mp.write_pcap(path, linktype, nano, mod)
    rc, ev, dec, err = replay(path)
    mp.diag(f'garbage capture: {len(mod) - len(recs)} packets added; {dec}')
    real = [e for e in ev if not e['client'].startswith('10.9.9.')]
    fake = [e for e in ev if e['client'].startswith('10.9.9.')]
    mp.check(rc == 0 and [what(e) for e in real] == [what(e) for e in ev0],
             'random-payload connections in a capture: the real events unchanged',
             f'rc {rc} {len(real)} vs {len(ev0)} {err[-300:]}')
    mp.check(not fake, 'no event made up from random payloads',
             str([(e['command'], e['sql']) for e in fake][:5]))
    mp.check(dec.get('connections') == dec0.get('connections', 0) + 12,
             'the 12 garbage connections are tracked', str(dec))
    if 'skipped_bytes' not in dec:
        mp.skip('the garbage connections are counted', NEEDS_LEAD)
    else:
        # 4 of them start with a SYN: each one error; the others are skipped bytes.
        mp.check(dec['decode_errors'] >= 4 and dec['skipped_bytes'] > 1000,
                 'the garbage connections are counted (decode_errors, skipped_bytes)', str(dec))


def main():
    mp.need_root('bad input against a live server (namespace, BPF)')
    tmp = mp.tempdir('mp-bad-', mode=0o777)
    ns = mp.Netns('bad')
    mp.MariaDB(port=PORT, netns=ns)
    for name, case in (('live garbage', lambda: live_bad(ns)),
                       ('--snaplen 64', lambda: live_snaplen(ns)),
                       ('replays', lambda: replays(ns, tmp))):
        with mp.case(name):
            case()
    mp.done()


if __name__ == '__main__':
    main()
