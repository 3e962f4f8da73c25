#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Two agents in tc mode on one device (tcx links), each watching its own MariaDB port, both
count exactly what their server counted (Com_select), while a third party's netlink tc filter
on the same device (u32 + mirred, with its own packet counter) still sees its packets. Each
agent holds only its own tcx programs: SIGKILL of one removes its two and nothing else, and the
other keeps counting exactly; SIGTERM of the last leaves the device bare (but for the third
party's filter)."""
import ctypes
import json
import os
import signal
import socket

import mp

PORT_A, PORT_B = 3317, 3318
N = 300
SRV, CLI = '10.231.0.1', '10.231.0.2'

BPF_PROG_QUERY = 16
TCX = {'ingress': 46, 'egress': 47}  # BPF_TCX_INGRESS, BPF_TCX_EGRESS
_libc = ctypes.CDLL(None, use_errno=True)


def tcx_progs(dev, hook):
    """Ids of the BPF programs on dev's tcx hook, in run order (from this namespace).

    BPF_PROG_QUERY directly: Debian 12's bpftool (7.1) does not list tcx programs."""
    ifindex = socket.if_nametoindex(dev)
    ids = (ctypes.c_uint32 * 16)()
    attr = (ctypes.c_uint8 * 64)()  # union bpf_attr, the query struct
    ctypes.c_uint32.from_buffer(attr, 0).value = ifindex
    ctypes.c_uint32.from_buffer(attr, 4).value = TCX[hook]
    ctypes.c_uint64.from_buffer(attr, 16).value = ctypes.addressof(ids)
    ctypes.c_uint32.from_buffer(attr, 24).value = len(ids)
    if _libc.syscall(321, BPF_PROG_QUERY, attr, ctypes.sizeof(attr)) != 0:
        e = ctypes.get_errno()
        raise OSError(e, f'BPF_PROG_QUERY {dev} {hook}: {os.strerror(e)}')
    return list(ids[:ctypes.c_uint32.from_buffer(attr, 24).value])


def agent_progs(pid):
    """Ids of the BPF programs process pid holds open (its fdinfo says prog_id)."""
    out = set()
    for fd in os.listdir(f'/proc/{pid}/fdinfo'):
        try:
            with open(f'/proc/{pid}/fdinfo/{fd}') as f:
                for line in f:
                    if line.startswith('prog_id:'):
                        out.add(int(line.split()[1]))
        except OSError:
            pass
    return out


def agent_pid(agent):
    """The agent's own pid (the Popen is `ip netns exec`, which execs it: the same pid)."""
    return agent.proc.pid


def mirrored(srv):
    """Packets the third party's filter has mirrored (its mirred action's counter)."""
    filters = json.loads(srv.run(['tc', '-s', '-j', 'filter', 'show', 'dev', 'mpa',
                                  'ingress']).stdout or '[]')
    n = 0
    for f in filters:
        for a in f.get('options', {}).get('actions', []):
            n += a.get('stats', {}).get('packets', 0)
    return n


def start(srv, port, http):
    a = mp.Agent(['-i', 'mpa', '-p', str(port), '--mode', 'tc', '-o', 'report',
                  '--report_period_ms', '200', '--serverport', str(http), '-v'], netns=srv)
    a.wait_ready()
    mp.check('ready: mode tc' in '\n'.join(a.err), f'agent on port {port} attached in tc mode',
             '\n'.join(a.err[-5:]))
    return a


def counted(name, agents, dbs, cli, before):
    """N SELECTs to each server; each agent must count exactly its own server's."""
    for port, db in dbs.items():
        s0 = mp.global_status(db, 'Com_select')
        mp.run_selects(cli, SRV, port, N)
        server = mp.global_status(db, 'Com_select') - s0
        if port not in agents:
            continue
        a = agents[port]
        want = before[port] + server
        mp.wait_until(lambda: mp.template_count(a.json_lines(), 'SELECT ?') >= want,
                      timeout=15, every=0.1, what=f'agent {port} to count')
        got = mp.template_count(a.json_lines(), 'SELECT ?') - before[port]
        mp.check(server == N and got == server,
                 f'{name}: agent on {port} counted {got}, its server {server}')
        before[port] += got


def main():
    mp.need_root('namespaces, BPF')
    with mp.Netns('cxs') as srv, mp.Netns('cxc') as cli:
        mp.veth_pair(srv, cli, SRV, CLI)
        mp.enter_netns(srv)  # tcx_progs() asks the kernel about srv's devices
        dbs = {PORT_A: mp.MariaDB(port=PORT_A, netns=srv, bind=SRV),
               PORT_B: mp.MariaDB(port=PORT_B, netns=srv, bind=SRV)}
        # The third party: a netlink filter mirroring server A's inbound packets to a spare
        # veth; its action counts what it saw.
        srv.run(['ip', 'link', 'add', 'mpm0', 'type', 'veth', 'peer', 'name', 'mpm1'])
        srv.run(['ip', 'link', 'set', 'mpm0', 'up'])
        srv.run(['ip', 'link', 'set', 'mpm1', 'up'])
        srv.run(['tc', 'qdisc', 'add', 'dev', 'mpa', 'clsact'])
        srv.run(['tc', 'filter', 'add', 'dev', 'mpa', 'ingress', 'protocol', 'ip', 'prio', '1',
                 'u32', 'match', 'ip', 'dport', str(PORT_A), '0xffff',
                 'action', 'mirred', 'egress', 'mirror', 'dev', 'mpm0'])

        a = start(srv, PORT_A, 8681)
        b = start(srv, PORT_B, 8682)
        mine = {p: agent_progs(agent_pid(x)) for p, x in ((PORT_A, a), (PORT_B, b))}
        for hook in ('ingress', 'egress'):
            on = tcx_progs('mpa', hook)
            mp.check(len(on) == 2 and len(set(on) & mine[PORT_A]) == 1 and
                     len(set(on) & mine[PORT_B]) == 1,
                     f'{hook}: one tcx program of each agent', f'{on} {mine}')
        before = {PORT_A: 0, PORT_B: 0}
        m0 = mirrored(srv)
        counted('both running', {PORT_A: a, PORT_B: b}, dbs, cli, before)
        m = mirrored(srv) - m0
        mp.check(m >= N, f'the third party\'s tc filter still sees its packets ({m} >= {N})')

        a.stop(signal.SIGKILL)
        for hook in ('ingress', 'egress'):
            on = tcx_progs('mpa', hook)
            mp.check(len(on) == 1 and set(on) <= mine[PORT_B],
                     f'{hook}: SIGKILL of one agent removes its program only', f'{on} {mine}')
        m0 = mirrored(srv)
        counted('after the other was SIGKILLed', {PORT_B: b}, dbs, cli, before)
        mp.check(mirrored(srv) - m0 >= N, 'the third party\'s filter still sees its packets')

        rc = b.stop(signal.SIGTERM)
        mp.check(rc == 0, 'the last agent exits 0 on SIGTERM', f'rc={rc} {b.err[-3:]}')
        left = [tcx_progs('mpa', h) for h in ('ingress', 'egress')]
        mp.check(left == [[], []], 'no tcx program left on the device', str(left))
        third = srv.run(['tc', 'filter', 'show', 'dev', 'mpa', 'ingress']).stdout
        mp.check('mirred' in third, 'the third party\'s filter is still there', third)
        for db in dbs.values():
            db.stop()
    mp.done()


if __name__ == '__main__':
    main()
