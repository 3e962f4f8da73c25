#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""A capture device deleted and created again under the same name (a veth rebuilt, a driver
reloaded): the agent says the device is gone, attaches again when it is back, and counts every
statement after that exactly — it was blind and silent before (0 of 47,000 statements counted,
`/healthz` ok). Meanwhile `/healthz` answers 503 naming the device, `/status` shows it
detached and each report counts it in `capture.devices_detached`. Runs for tc and xdp, on a
veth between a server and a client namespace, with a real MariaDB; counts are compared with
the server's Com_select.
"""
import json

import mp

PORT = 3313
N = 200
SRV, CLI = '10.231.0.1', '10.231.0.2'

def counted(name, agent, db, cli, before_agent):
    """Runs N SELECTs from the client namespace; the agent must count exactly the server's."""
    before = mp.global_status(db, 'Com_select')
    mp.run_selects(cli, SRV, PORT, N)
    server = mp.global_status(db, 'Com_select') - before
    want = before_agent + server
    mp.wait_until(lambda: mp.template_count(agent.json_lines(), 'SELECT ?') >= want,
                  timeout=15, every=0.1, what='the agent to count the statements')
    got = mp.template_count(agent.json_lines(), 'SELECT ?') - before_agent
    mp.check(server == N and got == server, f'{name}: agent counted {got}, the server {server}')
    return before_agent + got


def get(srv, path):
    """(status, body) of GET path on the agent's HTTP port, from inside its namespace."""
    r = srv.run(['curl', '-s', '-m', '5', '-w', '\n%{http_code}', f'http://127.0.0.1:8667{path}'],
                check=False)
    body, _, code = r.stdout.rpartition('\n')
    return int(code or 0), body


def attached(srv):
    st, body = get(srv, '/status')
    return {d['name']: d['attached'] for d in json.loads(body).get('devices', [])} \
        if st == 200 else {}


def run_mode(mode, srv, cli, db):
    agent = mp.Agent(['-i', 'mpa', '-p', str(PORT), '--mode', mode, '-o', 'report',
                      '--report_period_ms', '200'], netns=srv)
    try:
        agent.wait_ready()
        mp.check(f'mode {mode}' in '\n'.join(agent.err), f'{mode}: attached in {mode} mode',
                 '\n'.join(agent.err[-3:]))
        seen = counted(f'{mode}: before', agent, db, cli, 0)
        srv.run(['ip', 'link', 'del', 'mpa'])  # the peer in cli goes with it
        gone = mp.wait_until(lambda: any('device mpa is gone' in l for l in agent.err),
                             timeout=5, every=0.05, what='the agent to notice')
        mp.check(gone, f'{mode}: the agent says the device is gone', '\n'.join(agent.err[-3:]))
        blind = mp.wait_until(lambda: get(srv, '/healthz')[0] == 503, timeout=3, every=0.05,
                              what='/healthz to say so')
        st, body = get(srv, '/healthz')
        mp.check(blind and 'capture device mpa is gone' in body,
                 f'{mode}: /healthz answers 503 naming the device', f'{st} {body}')
        mp.check(attached(srv) == {'mpa': False}, f'{mode}: /status shows mpa detached',
                 str(attached(srv)))
        n0 = len(agent.json_lines())
        mp.wait_until(lambda: len(agent.json_lines()) > n0 + 1, timeout=5, every=0.05,
                      what='a report while the device is gone')
        last = agent.json_lines()[-1]
        mp.check(last['capture'].get('devices_detached') == 1,
                 f'{mode}: a report closed meanwhile counts the detached device',
                 str(last['capture']))
        mp.veth_pair(srv, cli, SRV, CLI)
        back = mp.wait_until(lambda: any('device mpa is back' in l for l in agent.err),
                             timeout=5, every=0.05, what='the agent to re-attach')
        mp.check(back, f'{mode}: the agent attaches to the new device',
                 '\n'.join(agent.err[-3:]))
        mp.check(mp.wait_until(lambda: get(srv, '/healthz')[0] == 200, timeout=3, every=0.05),
                 f'{mode}: /healthz is ok again', str(get(srv, '/healthz')))
        mp.check(attached(srv) == {'mpa': True}, f'{mode}: /status shows mpa attached again',
                 str(attached(srv)))
        counted(f'{mode}: after the device came back', agent, db, cli, seen)
    finally:
        rc = agent.stop()
    mp.check(rc == 0, f'{mode}: exits 0 on SIGTERM', f'rc={rc} {agent.err[-3:]}')
    left = (srv.run(['tc', 'filter', 'show', 'dev', 'mpa', 'ingress']).stdout.strip() +
            srv.run(['tc', 'filter', 'show', 'dev', 'mpa', 'egress']).stdout.strip())
    xdp = 'xdp' in srv.run(['ip', 'link', 'show', 'dev', 'mpa']).stdout
    mp.check(not left and not xdp, f'{mode}: nothing left attached to the new device',
             left + (' and an xdp program' if xdp else ''))


def main():
    mp.need_root('namespaces, BPF')
    with mp.Netns('lfs') as srv, mp.Netns('lfc') as cli:
        mp.veth_pair(srv, cli, SRV, CLI)
        # Bound to every address: the server keeps listening while its device is rebuilt.
        db = mp.MariaDB(port=PORT, netns=srv, bind='0.0.0.0')
        try:
            for mode in ('tc', 'xdp'):
                try:
                    run_mode(mode, srv, cli, db)
                except Exception as e:  # one mode's failure must not hide the other
                    mp.fail(f'{mode} raised', repr(e))
        finally:
            db.stop()
    mp.done()


if __name__ == '__main__':
    main()
