#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The master's cluster API and its links when peers misbehave: malformed join addresses are
400, an unknown remove 404, a duplicate join or a cluster call on a slave 409, each with a
JSON reason; http.token guards the calls; a master with a wrong or no cluster.token is
refused by the slave (401, said once, the token in no log); a "slave" that sends garbage and
truncated messages has each one counted and refused, nothing merged, the master unharmed;
remove and leave stop collecting and persist."""
import json
import os

import fleet
import mp

M1, M2, M3, M4 = (fleet.HTTP + i for i in range(4))
FAKE_PORT = 9101

# A websocket server on a slave's address that answers /collector with what no slave sends:
# each message below once (first connection only), then silence.
FAKE = r'''
import asyncio, json, sys, snappy, websockets
good = json.dumps({"version": 2, "node": "fake", "role": "slave", "seq": 1, "term": 0,
                   "period_start_ms": 0, "period_end_ms": 1000, "stats": [], "templates": {},
                   "slow": []}).encode()
BAD = [
    (b"\x00\x01garbage", True),                         # not a snappy block
    (b"\xff\xff\xff\xff\x0f" + b"x" * 20, True),        # claims 4 GiB uncompressed
    (snappy.compress(good)[:-7], True),                 # truncated snappy block
    (snappy.compress(b"not json at all"), True),        # snappy of garbage
    (snappy.compress(good[:len(good) // 2]), True),     # truncated JSON
    ('{"version": 2}', False),                          # a report without its members
    (json.dumps({**json.loads(good), "version": 99}), False),  # an unknown version
    (json.dumps({**json.loads(good), "stats": [{"template_id": "zz", "count": -3}]}), False),
]
conns = 0
async def serve(ws, path):
    global conns
    conns += 1
    if conns == 1:
        for data, binary in BAD:
            await ws.send(data)
    await asyncio.Future()
async def main():
    async with websockets.serve(serve, "0.0.0.0", int(sys.argv[1]), max_size=None):
        print("listening", flush=True)
        await asyncio.Future()
asyncio.run(main())
'''
NBAD = 8


def metric(text, name):
    for line in text.splitlines():
        if line.startswith(name + ' '):
            return float(line.split()[1])
    return None


def reason(body):
    try:
        return json.loads(body).get('error', '')
    except ValueError:
        return ''


def main():
    mp.need_root('master API (namespaces, veths, BPF)')
    fl = fleet.Fleet(1, period_ms=1000)
    s0 = fl.slaves[0]
    tok = os.path.join(fl.tmp, 'http.token')
    with open(tok, 'w') as f:
        f.write('http-secret-1\n')
    os.chmod(tok, 0o600)
    s0.start(['--http.token_file', tok])
    m1 = fl.master(M1, slaves=[s0.addr], extra=['--http.token_file', tok])
    get = fl.master_get

    # --- the API: errors with reasons, and http.token
    cases = [
        ('/cluster/join?addr=nonsense', 400), ('/cluster/join?addr=10.1.1.1:99999', 400),
        ('/cluster/join?addr=[::1', 400), ('/cluster/join', 400),
        ('/cluster/join?addr=10.1.1.1:1&addr=10.1.1.1:2', 400),
        ('/cluster/remove?addr=10.9.9.9:1', 404), (f'/cluster/join?addr={s0.addr}', 409),
    ]
    for path, want in cases:
        st, body = get(M1, path, token='http-secret-1')
        mp.check(st == want and reason(body), f'master {path}: {want} with a reason',
                 f'{st} {body[:200]}')
    st, body = get(M1, '/cluster/join?addr=10.1.1.1:1')
    mp.check(st == 401, '/cluster/join without the http.token: 401', f'{st} {body[:200]}')
    st, body = get(M1, '/cluster/join?addr=10.1.1.1:1', token='wrong')
    mp.check(st == 401, '/cluster/join with a wrong http.token: 401', f'{st} {body[:200]}')
    for path in ('/cluster/leave', f'/cluster/join?addr=10.232.0.1:{M1}',
                 f'/cluster/remove?addr=10.232.0.1:{M1}'):
        st, body = get(fleet.HTTP, path, ns=s0.ns, token='http-secret-1')
        mp.check(st == 409 and reason(body), f'slave {path.split("?")[0]}: 409 with a reason',
                 f'{st} {body[:200]}')

    # --- cluster.token on the pull: wrong and missing
    wrong = os.path.join(fl.tmp, 'wrong.token')
    with open(wrong, 'w') as f:
        f.write('not-the-cluster-token\n')
    m2 = fl.master(M2, slaves=[s0.addr], token_file=wrong)
    m3 = fl.master(M3, slaves=[s0.addr], token_file='')

    def refused(port):
        st, nodes = fleet.listnodes(fl, port)
        n = next((x for x in nodes if x['addr'] == s0.addr), {}) if st == 200 else {}
        return n.get('state') == 'down' and '401' in (n.get('why') or '')
    for name, port, agent in (('a wrong', M2, m2), ('no', M3, m3)):
        mp.poll(lambda: refused(port), timeout=20, what=f'{name} cluster.token refused')
        mp.ok(f'{name} cluster.token: the slave refuses the pull (401 in listnodes)')
        said = [l for l in agent.err if 'refused the pull: 401' in l]
        mp.check(len(said) == 1, f'{name} cluster.token: said once in the log, not per retry',
                 '\n'.join(agent.err[-5:]))
    st, _ = get(fleet.HTTP, '/collector', host='10.232.0.2', headers=[
        'Connection: Upgrade', 'Upgrade: websocket', 'Sec-WebSocket-Version: 13',
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=='])
    mp.check(st == 401, 'a /collector upgrade without the cluster.token: 401', str(st))

    # --- a "slave" that sends garbage
    fake = s0.ns.popen(['/usr/bin/python3', '-c', FAKE, str(FAKE_PORT)],
                       stdout=__import__('subprocess').PIPE, text=True)
    mp.check(fake.stdout.readline().strip() == 'listening', 'the fake slave listens')
    fake_addr = f'10.232.0.2:{FAKE_PORT}'
    m4 = fl.master(M4, slaves=[s0.addr, fake_addr])

    def refused_all():
        st, text = get(M4, '/metrics')
        return st == 200 and metric(text, 'mysqlprobe_master_reports_refused_total') == NBAD
    mp.poll(refused_all, timeout=20, what=f'{NBAD} garbage messages refused')
    mp.ok(f'each of {NBAD} garbage and truncated messages is counted and refused')
    n0 = len(m4.json_lines())
    mp.poll(lambda: len(m4.json_lines()) >= n0 + 3, timeout=15, what='the master goes on')
    st, _ = get(M4, '/healthz')
    reps = m4.json_lines()
    mp.check(m4.proc.poll() is None and st == 200, 'the master is unharmed (running, healthy)',
             f'{st}')
    mp.check(all(r['nodes'].get(fake_addr, {}).get('seq', 0) == 0 for r in reps),
             'nothing of the fake slave was merged', str(reps[-1]['nodes'])[:300])
    said = [l for l in m4.err if fake_addr in l and 'refused' in l]
    mp.check(len(said) == 1, 'garbage is said once (a minute), not per message',
             '\n'.join(m4.err[-5:]))

    # --- remove and leave stop collecting and persist
    st, body = get(M1, f'/cluster/remove?addr={s0.addr}', token='http-secret-1')
    mp.check(st == 200, '/cluster/remove of a known slave: 200', f'{st} {body[:200]}')
    st, nodes = fleet.listnodes(fl, M1, token='http-secret-1')
    mp.check(st == 200 and all(n['addr'] != s0.addr for n in nodes),
             'listnodes no longer shows it', str(nodes)[:300])
    with open(os.path.join(fl.tmp, f'state-{M1}')) as f:
        mp.check(s0.addr not in f.read(), 'the state file no longer holds it')
    st, body = get(M4, '/cluster/leave')
    st2, nodes = fleet.listnodes(fl, M4)
    mp.check(st == 200 and st2 == 200 and not [n for n in nodes if n['role'] == 'slave'],
             '/cluster/leave: 200 and no slave left', f'{st} {nodes}')
    rcs = [a.stop() for a in (m1, m2, m3, m4)]
    mp.check(rcs == [0] * 4, 'the masters exit 0', str(rcs))
    secrets = ('http-secret-1', fleet.TOKEN, 'not-the-cluster-token')
    logs = '\n'.join(l for a in (m1, m2, m3, m4, s0.agent) for l in a.err)
    mp.check(not any(x in logs for x in secrets), 'no token in any log')
    mp.done()


if __name__ == '__main__':
    main()
