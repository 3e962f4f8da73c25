#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The HTTP port under connection abuse, with the agent's open-file limit low (prlimit 256).

- CONNECT (lws hands it over as a raw socket, which had no deadline and was never closed):
  600 at once are all closed within seconds, /healthz answers meanwhile, each one counted.
- More half-sent requests than descriptors: the agent neither spins on accept() (its CPU time
  stays near zero) nor floods its log (one rate-limited line instead of one per failed
  accept), counts the full table in /metrics, and serves /healthz again as soon as the
  connections go.
- Both for the release build and, when it is built, the ASan+UBSan one (its LeakSanitizer
  turns any leak into a non-zero exit status).
"""
import os
import re
import resource
import socket
import time

import mp

LABEL = ''  # which build runs: the release one, then the ASan+UBSan one

HTTP = 8668
NOFILE = 256


def agent_cpu(pid):
    with open(f'/proc/{pid}/stat') as f:
        v = f.read().rsplit(')', 1)[1].split()
    return (int(v[11]) + int(v[12])) / os.sysconf('SC_CLK_TCK')


def healthz(timeout=1.0):
    try:
        st, body = mp.http_get(f'http://127.0.0.1:{HTTP}/healthz', timeout=timeout)
        return st == 200
    except OSError:
        return False


def metric(name):
    st, body = mp.http_get(f'http://127.0.0.1:{HTTP}/metrics')
    m = re.search(rf'^{name} (\d+)$', body, re.M)
    return int(m.group(1)) if st == 200 and m else None


def open_many(n, payload):
    out = []
    for _ in range(n):
        s = socket.create_connection(('127.0.0.1', HTTP), timeout=5)
        s.sendall(payload)
        out.append(s)
    return out


def closed_by_peer(s):
    s.settimeout(0)
    try:
        return s.recv(1) == b''
    except BlockingIOError:
        return False
    except OSError:
        return True


def connect_case(agent):
    socks = open_many(600, b'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com\r\n\r\n')
    try:
        mp.check(healthz(), LABEL + '/healthz answers while 600 CONNECTs are open')
        all_closed = mp.wait_until(lambda: all(closed_by_peer(s) for s in socks), timeout=10,
                                   every=0.1, what='CONNECTs closed')
        mp.check(all_closed, LABEL + 'every CONNECT is closed by the agent',
                 f'{sum(not closed_by_peer(s) for s in socks)} still open')
    finally:
        for s in socks:
            s.close()
    mp.check(metric('mysqlprobe_server_connections_not_http_total') == 600,
             LABEL + 'each CONNECT is counted', str(metric('mysqlprobe_server_connections_not_http_total')))


def exhaustion_case(agent):
    lines0 = len(agent.err)
    socks = []
    try:
        # More half-sent requests than the agent has descriptors for; the last ones wait in
        # the kernel's backlog, so open without waiting for an accept.
        for _ in range(NOFILE + 100):
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(('127.0.0.1', HTTP))
            socks.append(s)
        mp.wait_until(lambda: metric_quick('mysqlprobe_server_connections_full_total'),
                      timeout=5, every=0.1, what='the table to fill')
        c0, t0 = agent_cpu(agent.proc.pid), time.time()
        mp.wait_until(lambda: time.time() - t0 >= 2.0, timeout=3, every=0.1,
                      what='two seconds of a full table')
        cpu = agent_cpu(agent.proc.pid) - c0
        mp.check(cpu < 0.5, LABEL + 'a full table does not make the agent spin',
                 f'{cpu:.2f} s of CPU in 2 s')
    finally:
        for s in socks:
            s.close()
    back = mp.wait_until(healthz, timeout=10, every=0.1, what='/healthz back')
    mp.check(back, LABEL + '/healthz answers again once the connections go')
    new = agent.err[lines0:]
    # The CONNECT flood before may already have filled the table and said so: the line is
    # rate-limited (one per 10 s), so it shows once or twice over the whole run, here or there.
    full = [l for l in agent.err if 'connections open' in l]
    mp.check(len(new) <= 5 and 1 <= len(full) <= 2,
             LABEL + 'one rate-limited log line instead of one per failed accept',
             f'{len(new)} new lines: {new[:3]}; "connections open" lines: {len(full)}')
    n = metric('mysqlprobe_server_connections_full_total')
    mp.check(n is not None and n >= 1, LABEL + 'the full table is counted in /metrics', str(n))
    lim = metric('mysqlprobe_server_connections_limit')
    mp.check(lim is not None and lim < NOFILE,
             LABEL + 'the table is smaller than the open-file limit', str(lim))


def metric_quick(name):
    """A metric read that tolerates a full table (the request itself may have to wait)."""
    try:
        st, body = mp.http_get(f'http://127.0.0.1:{HTTP}/metrics', timeout=0.5)
    except OSError:
        return True  # no answer at all: the table is full
    m = re.search(rf'^{name} (\d+)$', body, re.M)
    return bool(m and int(m.group(1)))


def run(binary):
    with mp.Netns('httplim') as ns:
        mp.enter_netns(ns)
        agent = mp.Agent(['-o', 'none', '--serverport', str(HTTP), '-p', '3399'],
                         wrapper=['prlimit', f'--nofile={NOFILE}'], binary=binary)
        try:
            agent.wait_ready()
            for case in (connect_case, exhaustion_case):
                try:
                    case(agent)
                except Exception as e:  # one case's failure must not hide the next
                    mp.fail(f'{LABEL}{case.__name__} raised', repr(e))
        finally:
            rc = agent.stop()
        # The ASan build's LeakSanitizer makes the exit status non-zero on any leak.
        mp.check(rc == 0, LABEL + 'the agent exits 0 on SIGTERM', f'rc={rc} {agent.err[-3:]}')


def main():
    global LABEL
    mp.need_root('namespaces')
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
    san = os.path.join(os.path.dirname(mp.BIN), 'san', os.path.basename(mp.BIN))
    for label, binary in (('', mp.BIN), ('asan: ', san)):
        LABEL = label
        if not os.path.exists(binary):
            mp.skip(f'{label}abuse cases', f'{binary} is not built (make SANITIZER=...)')
            continue
        run(binary)  # each run enters a namespace of its own
    mp.done()


if __name__ == '__main__':
    main()
