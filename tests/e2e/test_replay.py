#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Replay of captures this test makes itself with tcpdump from a real MariaDB.

Link types: Ethernet (lo), Linux cooked SLL and SLL2 (-i any), raw IP and a
pcapng rewrite of the Ethernet capture. Every replay must list exactly the
segments tcpdump decodes from the same file, and be byte-for-byte repeatable.
"""
import collections
import os
import struct
import subprocess

import mp

PORT = 3311


def write_pcapng(path, linktype, nano, recs):
    """Section header, one interface (with its timestamp resolution), enhanced packet blocks."""
    def block(btype, body):
        body += b'\0' * (-len(body) % 4)
        n = 12 + len(body)
        return struct.pack('<II', btype, n) + body + struct.pack('<I', n)
    out = block(0x0A0D0D0A, struct.pack('<IHHq', 0x1A2B3C4D, 1, 0, -1))
    opts = b''
    if nano:
        opts = struct.pack('<HHB3x', 9, 1, 9) + struct.pack('<HH', 0, 0)  # if_tsresol = 10^-9
    out += block(1, struct.pack('<HHI', linktype, 0, 262144) + opts)
    unit = 10**9 if nano else 10**6
    for s, frac, cap, orig, data in recs:
        ts = s * unit + frac
        out += block(6, struct.pack('<IIIII', 0, ts >> 32, ts & 0xffffffff, cap, orig) + data)
    with open(path, 'wb') as f:
        f.write(out)


def to_raw_ip(recs):
    """Drops the 14-byte Ethernet header: LINKTYPE_RAW (101)."""
    return [(s, fr, cap - 14, orig - 14, d[14:]) for s, fr, cap, orig, d in recs if cap > 14]


def replay(path, extra=()):
    r = subprocess.run([mp.BIN, '-r', path, '-p', str(PORT), '-o', 'segments'] + list(extra),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return r


def segs_of(stdout):
    import json
    out = []
    for line in stdout.splitlines():
        j = json.loads(line)
        out.append((j['dir'], j['seq'], j['len']))
    return out


def check_replay(name, path, reference):
    r = replay(path)
    if not mp.check(r.returncode == 0, f'{name}: replay exits 0', r.stderr[-500:]):
        return
    got = collections.Counter(segs_of(r.stdout))
    want = collections.Counter(reference)
    mp.check(got == want and len(reference) > 20,
             f'{name}: replay equals tcpdump ({len(reference)} segments)',
             f'only replay {list((got - want).items())[:4]} only tcpdump '
             f'{list((want - got).items())[:4]}')
    again = replay(path)
    mp.check(again.stdout == r.stdout, f'{name}: replay output is deterministic')


def main():
    mp.need_root('replay (captures need a namespace and tcpdump)')
    tmp = mp.tempdir('mp-replay-')
    eth = os.path.join(tmp, 'eth.pcap')
    sll = os.path.join(tmp, 'sll.pcap')
    sll2 = os.path.join(tmp, 'sll2.pcap')
    with mp.scope():
        ns = mp.Netns('rep')
        db = mp.MariaDB(port=PORT, netns=ns)
        dumps = [mp.Tcpdump(eth, [PORT], dev='lo', netns=ns)]
        for path, lt in ((sll, 'LINUX_SLL'), (sll2, 'LINUX_SLL2')):
            dumps.append(mp.Tcpdump(path, [PORT], dev='any', netns=ns, snaplen=0, linktype=lt))
        for i in range(3):
            db.sql("SELECT REPEAT('y', 100000); SELECT 1; SELECT * FROM nope", check=False)

        def settled():
            # Each replay is checked against tcpdump's reading of the same
            # file, so the files need not be identical, only non-trivial.
            n = [len(mp.tcpdump_segments(d.path, [PORT])) for d in dumps]
            return min(n) > 20
        mp.poll(settled, timeout=20, every=0.2, what='the captures to fill')
        for d in dumps:
            d.stop()

    ref = mp.tcpdump_segments(eth, [PORT])
    check_replay('ethernet pcap', eth, ref)
    check_replay('linux SLL', sll, mp.tcpdump_segments(sll, [PORT]))
    check_replay('linux SLL2', sll2, mp.tcpdump_segments(sll2, [PORT]))

    lt, nano, recs = mp.read_pcap(eth)
    mp.check(lt == 1, 'tcpdump on lo writes Ethernet frames')
    ng = os.path.join(tmp, 'eth.pcapng')
    write_pcapng(ng, lt, nano, recs)
    check_replay('pcapng', ng, ref)
    raw = os.path.join(tmp, 'raw.pcap')
    mp.write_pcap(raw, 101, nano, to_raw_ip(recs))
    check_replay('raw IP', raw, ref)

    # Frames cut by the file's own snap length: kept, truncated, never invented.
    cut = os.path.join(tmp, 'cut.pcap')
    mp.write_pcap(cut, lt, nano, [(s, f, min(c, 100), o, d[:100]) for s, f, c, o, d in recs])
    r = replay(cut)
    segs = segs_of(r.stdout)
    mp.check(r.returncode == 0 and collections.Counter(segs) == collections.Counter(ref),
             'snap-length-cut file: same segments with their wire lengths')
    mp.check('truncated=0' not in r.stderr, 'snap-length-cut file: truncation counted',
             r.stderr[-300:])

    # Garbage instead of a capture: a clear error and exit 2.
    junk = os.path.join(tmp, 'junk.pcap')
    with open(junk, 'wb') as f:
        f.write(os.urandom(4096))
    r = replay(junk)
    mp.check(r.returncode == 2 and 'junk.pcap' in r.stderr, 'garbage file: exit 2 naming it',
             f'rc={r.returncode} {r.stderr.strip()}')
    r = replay(os.path.join(tmp, 'missing.pcap'))
    mp.check(r.returncode == 2 and 'missing.pcap' in r.stderr, 'missing file: exit 2 naming it')
    # A truncated file (cut mid-record) still delivers what precedes the cut.
    part = os.path.join(tmp, 'part.pcap')
    with open(eth, 'rb') as f:
        data = f.read()
    with open(part, 'wb') as f:
        f.write(data[:len(data) // 2])
    r = replay(part)
    mp.check(len(segs_of(r.stdout)) > 0 and r.returncode in (0, 1),
             'file cut mid-record: earlier segments delivered, error reported',
             f'rc={r.returncode} {r.stderr[-200:]}')
    subprocess.run(['rm', '-rf', tmp])
    mp.done()


if __name__ == '__main__':
    main()
