#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Statements lost per lost packet: captures with packets removed at chosen points.

sysbench oltp_read_write (prepared statements, then the text protocol) against a real MariaDB,
captured whole by tcpdump and replayed whole; then the capture is replayed again with packets
removed (in Python, with the pcap reader/writer of mp.py): single request packets, single
response packets and bursts of 2 to 6 consecutive packets (what a libpcap or ring-buffer drop
looks like). A statement is lost when the replay reports no event for it (same client, start
time, command and text). Expected:

- a removed request packet loses exactly the requests that started in it (nobody can see
  those: tshark neither);
- a removed response packet loses nothing: the request was seen whole, so it is reported as
  `unanswered` with the flag `response_lost`; every other statement is reported as in the
  whole replay (same status and rows), i.e. the next request after the gap and its response
  are decoded;
- a burst loses exactly the requests that started in its packets.

The figures (statements lost per lost packet) are printed as TAP diagnostics; run with
MP_BIN=<an older build> to measure that build (BENCHMARKS.md).
"""
import collections
import json
import os
import random
import subprocess

import mp

PORT = 3319
# Per capture: single request cuts, single response cuts, bursts.
CUTS = 12


def capture(ns, mode, path):
    base = ['sysbench', 'oltp_read_write', '--db-driver=mysql', '--mysql-host=127.0.0.1',
            f'--mysql-port={PORT}', '--mysql-user=mp', '--mysql-password=mp', '--mysql-db=mp',
            '--tables=1', '--table-size=1000']
    dump = mp.Tcpdump(path, [PORT], netns=ns)
    # Rate-limited: the whole capture must hold every packet (the cuts are ours to choose).
    ns.run(base + [f'--db-ps-mode={mode}', '--threads=2', '--events=150', '--rate=100',
                   '--time=0', 'run'])
    err = dump.stop()
    return mp.tcpdump_dropped(err)


def replay(path):
    r = subprocess.run([mp.BIN, '-r', path, '-p', str(PORT), '-o', 'events'], text=True,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    if r.returncode != 0:
        raise RuntimeError(f'replay of {path}: rc {r.returncode} {r.stderr[-500:]}')
    ev = [json.loads(l) for l in r.stdout.splitlines() if l.startswith('{')]
    return {(e['client'], e['ts_us'], e['command'], e['sql']): e for e in ev}, \
        mp.agent_counters(r.stderr, 'decode')


def requests_in(payload):
    """Requests starting in a client segment: MySQL packets with sequence id 0 (sysbench
    neither pipelines nor sends packets over 16 MiB, so the segment holds whole packets)."""
    n, off = 0, 0
    while off + 4 <= len(payload):
        n += payload[off + 3] == 0
        off += 4 + (payload[off] | payload[off + 1] << 8 | payload[off + 2] << 16)
    return n


def cut_and_compare(tag, recs, lt, nano, whole, start, count, tmp):
    """Replays recs without recs[start:start+count]; returns (lost, lost_requests, changed,
    lost_responses) and records a failure reason in the returned dict."""
    path = os.path.join(tmp, 'cut.pcap')
    mp.write_pcap(path, lt, nano, recs[:start] + recs[start + count:])
    got, dec = replay(path)
    gone = [mp.tcp_of(r[4]) for r in recs[start:start + count]]
    reqs = sum(requests_in(t[7]) for t in gone if t and t[3] == PORT)
    lost = [k for k in whole if k not in got]
    extra = [k for k in got if k not in whole]
    lost_resp = [k for k in got if got[k]['status'] == 'unanswered' and
                 whole[k]['status'] != 'unanswered']
    flagged = all('response_lost' in got[k]['flags'] for k in lost_resp)
    changed = [k for k in got if k in whole and k not in lost_resp and
               (got[k]['status'], got[k]['rows_sent'], got[k]['rows_affected']) !=
               (whole[k]['status'], whole[k]['rows_sent'], whole[k]['rows_affected'])]
    return {'tag': tag, 'packets': count, 'requests_cut': reqs, 'lost': len(lost),
            'extra': len(extra), 'changed': len(changed), 'response_lost': len(lost_resp),
            'flagged': flagged, 'gaps': dec.get('gaps', 0)}


def run_capture(mode, ns, tmp):
    path = os.path.join(tmp, f'{mode}.pcap')
    dropped = capture(ns, mode, path)
    if not mp.check(dropped == 0, f'{mode}: tcpdump captured every packet', f'{dropped}'):
        return []
    lt, nano, recs = mp.read_pcap(path)
    whole, dec = replay(path)
    mp.check(dec.get('gaps') == 0 and len(whole) >= 2000,
             f'{mode}: the whole capture replays without a gap ({len(whole)} statements)',
             str(dec))
    segs = [(i, mp.tcp_of(r[4])) for i, r in enumerate(recs)]
    reqs = [i for i, t in segs if t and t[7] and t[3] == PORT and requests_in(t[7])]
    resps = [i for i, t in segs if t and t[7] and t[2] == PORT]
    rnd = random.Random(16)
    out = []
    for i in sorted(rnd.sample(reqs[len(reqs) // 10:], CUTS)):
        out.append(cut_and_compare('request', recs, lt, nano, whole, i, 1, tmp))
    for i in sorted(rnd.sample(resps[len(resps) // 10:], CUTS)):
        out.append(cut_and_compare('response', recs, lt, nano, whole, i, 1, tmp))
    for i in sorted(rnd.sample(range(len(recs) // 10, len(recs) - 10), CUTS)):
        out.append(cut_and_compare('burst', recs, lt, nano, whole, i, rnd.randint(2, 6), tmp))
    return out


def summarise(mode, rows):
    by = collections.defaultdict(lambda: collections.Counter())
    for r in rows:
        c = by[r['tag']]
        c['cuts'] += 1
        c['packets'] += r['packets']
        c['requests_cut'] += r['requests_cut']
        c['lost'] += r['lost']
        c['response_lost'] += r['response_lost']
    for tag, c in by.items():
        mp.diag(f'{mode} {tag}: {c["cuts"]} cuts, {c["packets"]} packets removed, '
                f'{c["requests_cut"]} requests in them; statements lost {c["lost"]} '
                f'({c["lost"] / c["packets"]:.2f} per lost packet), reported without their '
                f'response {c["response_lost"]}')


def main():
    mp.need_root('replays of captures with packets removed (a MariaDB in a namespace)')
    tmp = mp.tempdir('mp-gap-')
    ns = mp.Netns('gap')
    db = mp.MariaDB(port=PORT, netns=ns)
    ns.run(['sysbench', 'oltp_read_write', '--db-driver=mysql', '--mysql-host=127.0.0.1',
            f'--mysql-port={PORT}', '--mysql-user=mp', '--mysql-password=mp', '--mysql-db=mp',
            '--tables=1', '--table-size=1000', 'prepare'])
    for mode in ('auto', 'disable'):
        rows = run_capture(mode, ns, tmp)
        if not rows:
            continue
        summarise(mode, rows)
        bad = [r for r in rows if r['lost'] != r['requests_cut'] or r['extra'] or r['changed']]
        mp.check(not bad, f'{mode}: each cut loses exactly the requests that started in the '
                 f'removed packets, nothing else changes ({len(rows)} cuts)', str(bad[:3]))
        resp = [r for r in rows if r['tag'] == 'response']
        mp.check(all(r['lost'] == 0 and r['response_lost'] >= 1 and r['flagged'] for r in resp),
                 f'{mode}: a lost response packet loses no statement; its request is reported '
                 f'unanswered with the flag response_lost', str(resp[:3]))
    db.stop()
    ns.close()
    mp.done()


if __name__ == '__main__':
    main()
