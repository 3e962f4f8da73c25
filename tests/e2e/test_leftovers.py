#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Nothing is left attached after the agent exits, and a SIGKILLed agent's
leftovers are replaced by the next start instead of making it fail. Covers the attachments that
outlive their process: netlink TC filters (probe.tc_attach: netlink, the path of kernels before
6.6) and XDP. tcx links die with their process; test_coexist.py covers them."""
import json
import signal

import mp

PORT = 3312


def attachments(ns, dev):
    """Text describing every TC filter, clsact qdisc and XDP program on dev ('' when none)."""
    out = []
    for d in ('ingress', 'egress'):
        f = ns.run(['tc', 'filter', 'show', 'dev', dev, d]).stdout.strip()
        if f:
            out.append(f'{d}: {f}')
    q = ns.run(['tc', 'qdisc', 'show', 'dev', dev]).stdout
    if 'clsact' in q:
        out.append(f'qdisc: {q.strip()}')
    link = ns.run(['ip', '-d', 'link', 'show', 'dev', dev]).stdout
    if 'xdp' in link.split('\n', 1)[0] or 'prog/xdp' in link:
        out.append(f'link: {link.strip()}')
    return '\n'.join(out)


# netlink: TC through clsact filters; xdp keeps the default (TC egress through tcx links).
EXTRA = {'tc': ['--probe.tc_attach', 'netlink'], 'xdp': []}


def start(ns, mode, devs):
    a = mp.Agent(['-i', ','.join(devs), '-p', str(PORT), '--mode', mode, '-o', 'segments'] +
                 EXTRA[mode], netns=ns)
    a.wait_ready()
    return a


def traffic_seen(ns, db, agent):
    db.sql('SELECT 42')
    return mp.wait_until(lambda: any('"to_client"' in l for l in agent.lines), timeout=10,
                         what='segments from the agent')


def one_mode(ns, db, devs, mode):
    """Attach, detach on SIGTERM, survive a SIGKILLed predecessor, refuse to steal."""
    a = start(ns, mode, devs)
    mp.check(f'mode {mode}' in '\n'.join(a.err), f'{mode}: attached with BPF',
             '\n'.join(a.err))
    attached = attachments(ns, 'mpa')
    mp.check(attached != '', f'{mode}: attachment visible while running')
    rc = a.stop(signal.SIGTERM)
    mp.check(rc == 0, f'{mode}: SIGTERM exits 0')
    for dev in devs:
        left = attachments(ns, dev)
        mp.check(left == '', f'{mode}: nothing left on {dev} after SIGTERM', left)

    # SIGKILL leaves the kernel objects behind...
    a = start(ns, mode, devs)
    a.stop(signal.SIGKILL)
    left = attachments(ns, 'mpa')
    mp.check(left != '', f'{mode}: SIGKILL leaves an attachment (precondition)')
    # ...and the next start replaces them and captures normally.
    a = start(ns, mode, devs)
    mp.check(f'mode {mode}' in '\n'.join(a.err),
             f'{mode}: restart after SIGKILL uses BPF, not the pcap fallback',
             '\n'.join(a.err))
    mp.check(traffic_seen(ns, db, a), f'{mode}: restarted agent captures')
    # A second agent must not steal a running agent's attachment.
    b = mp.Agent(['-i', 'mpa', '-p', str(PORT), '--mode', mode, '-o', 'none', '-v'] +
                 EXTRA[mode], netns=ns)
    b.wait_ready()
    mp.check('already captured by a running mysqlprobe' in '\n'.join(b.err),
             f'{mode}: a second agent leaves the running one alone',
             '\n'.join(b.err[-5:]))
    # It fell back to pcap: its start-up line and /status say so, and what was asked for.
    mp.check(f'ready: mode pcap ({mode} requested)' in '\n'.join(b.err),
             f'{mode}: the second agent\'s ready line names pcap and the {mode} asked for',
             '\n'.join(b.err[-5:]))
    st = json.loads(ns.run(['curl', '-sS', 'http://127.0.0.1:8667/status']).stdout)
    mp.check(st.get('mode') == 'pcap' and st.get('requested_mode') == mode,
             f'{mode}: its /status says mode pcap, requested_mode {mode}',
             f'{st.get("mode")} {st.get("requested_mode")}')
    b.stop()
    mp.check(traffic_seen(ns, db, a), f'{mode}: first agent still captures')
    a.stop(signal.SIGINT)
    for dev in devs:
        left = attachments(ns, dev)
        mp.check(left == '', f'{mode}: nothing left on {dev} after restart + SIGINT',
                 left)


def main():
    mp.need_root('leftover checks (attach BPF in a namespace)')
    ns, peer = mp.Netns('left'), mp.Netns('peer')
    mp.veth_pair(ns, peer)
    devs = ['lo', 'mpa']
    db = mp.MariaDB(port=PORT, netns=ns)
    for mode in ('tc', 'xdp'):
        with mp.case(mode):
            one_mode(ns, db, devs, mode)
    mp.done()


if __name__ == '__main__':
    main()
