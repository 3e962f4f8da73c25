#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Least privilege: the agent captures exactly with only the capabilities the shipped systemd
unit grants, as an unprivileged user, and names the capability it lacks when one is missing.

The capability set is read from conf/mysqlprobe.service, so the unit and this test cannot
drift apart. setpriv (util-linux) runs the agent as uid/gid 65534 with that set as its
inheritable, ambient and bounding sets, inside a namespace with a real MariaDB; every count is
compared with the server's own Com_select. `make install DESTDIR=...` is checked too: file modes
and a unit that systemd-analyze verifies without a warning.
"""
import os
import re
import shutil
import subprocess
import tempfile

import mp

PORT = 3312
N = 300
UNIT = os.path.join(mp.ROOT, 'conf/mysqlprobe.service')
NOBODY = '65534'

def unit_caps(key):
    with open(UNIT) as f:
        m = re.search(rf'^{key}=(.*)$', f.read(), re.M)
    return m.group(1).split() if m else []


def setpriv(caps):
    """setpriv argv: uid/gid 65534, no groups, exactly caps (names like CAP_BPF)."""
    s = ''.join(',+' + c[4:].lower() for c in caps)
    return ['setpriv', f'--reuid={NOBODY}', f'--regid={NOBODY}', '--clear-groups',
            f'--inh-caps=-all{s}', f'--ambient-caps=-all{s}', f'--bounding-set=-all{s}']


def check_not_dumpable(name, pid):
    """A non-dumpable process's /proc files belong to root whatever its uid: the kernel's own
    sign that it writes no core dump and that processes of its user cannot ptrace it."""
    with open(f'/proc/{pid}/status') as f:
        uid = re.search(r'^Uid:\s+(\d+)', f.read(), re.M).group(1)
    owner = os.stat(f'/proc/{pid}/environ').st_uid
    mp.check(uid == NOBODY and owner == 0,
             f'{name}: runs as {NOBODY} and is not dumpable (secrets stay out of core dumps)',
             f'uid {uid}, /proc/PID/environ owned by {owner}')


def capture_case(name, db, ns, binary, caps, mode, want_mode, want_missing=None):
    before = mp.global_status(db, 'Com_select')
    agent = mp.Agent(['-i', 'lo', '-p', str(PORT), '--mode', mode, '-o', 'report',
                      '--report_period_ms', '200'], netns=ns, wrapper=setpriv(caps),
                     binary=binary)
    try:
        agent.wait_ready()
        err = '\n'.join(agent.err)
        mp.check(f'mode {want_mode}' in err, f'{name}: runs in {want_mode} mode', err[-600:])
        if want_missing:
            mp.check(f'missing {want_missing}' in err, f'{name}: names {want_missing}',
                     err[-600:])
        else:
            mp.check('falling back' not in err, f'{name}: no fallback', err[-600:])
        if not want_missing and mode == 'tc':
            check_not_dumpable(name, agent.proc.pid)
        mp.run_selects(ns, '127.0.0.1', PORT, N)
        server = mp.global_status(db, 'Com_select') - before
        mp.wait_until(lambda: mp.template_count(agent.json_lines(), 'SELECT ?') >= server,
                      timeout=20, every=0.1, what='the agent to report every statement')
    finally:
        rc = agent.stop()
    got = mp.template_count(agent.json_lines(), 'SELECT ?')
    mp.check(server == N and got == server,
             f'{name}: agent counted {got} SELECTs, the server {server}', f'want {N}')
    mp.check(rc == 0, f'{name}: exits 0 on SIGTERM', f'rc={rc} {agent.err[-3:]}')


def refused_case(name, ns, binary, caps, mode, want_missing):
    agent = mp.Agent(['-i', 'lo', '-p', str(PORT), '--mode', mode], netns=ns,
                     wrapper=setpriv(caps), binary=binary)
    exited = mp.wait_until(lambda: agent.proc.poll() is not None, timeout=20,
                           what='the agent to give up')
    rc = agent.stop()
    err = '\n'.join(agent.err)
    mp.check(exited and rc != 0, f'{name}: exits non-zero', f'rc={rc}')
    mp.check(f'missing {want_missing}' in err, f'{name}: names {want_missing}', err[-600:])


def install_case(tmp):
    dest = os.path.join(tmp, 'root')
    r = subprocess.run(['make', '-s', '-C', mp.ROOT, 'install', f'DESTDIR={dest}'],
                       capture_output=True, text=True)
    if not mp.check(r.returncode == 0, 'make install DESTDIR= succeeds', r.stderr[-800:]):
        return
    conf = os.path.join(dest, 'etc/mysqlprobe/mysqlprobe.yaml')
    modes = {p: oct(os.stat(os.path.join(dest, p)).st_mode & 0o777) for p in
             ('usr/local/sbin/mysqlprobe', 'etc/mysqlprobe', 'etc/mysqlprobe/mysqlprobe.yaml')}
    mp.check(modes == {'usr/local/sbin/mysqlprobe': '0o755', 'etc/mysqlprobe': '0o750',
                       'etc/mysqlprobe/mysqlprobe.yaml': '0o640'},
             'installed modes: config readable by the service group only', str(modes))
    mp.check(os.path.isfile(conf), 'the config is installed')
    if not shutil.which('systemd-analyze'):
        mp.skip('the unit verifies', 'systemd-analyze is not installed')
        return
    # verify needs ExecStart to exist: point it at the installed binary.
    unit_dir = os.path.join(tmp, 'unit')
    os.makedirs(unit_dir)
    with open(os.path.join(dest, 'etc/systemd/system/mysqlprobe.service')) as f:
        text = f.read()
    with open(os.path.join(unit_dir, 'mysqlprobe.service'), 'w') as f:
        f.write(text.replace('ExecStart=/usr/local/', f'ExecStart={dest}/usr/local/'))
    r = subprocess.run(['systemd-analyze', 'verify', os.path.join(unit_dir, 'mysqlprobe.service')],
                       capture_output=True, text=True)
    out = (r.stdout + r.stderr).strip()
    mp.check(r.returncode == 0 and not out, 'systemd-analyze verify: no error, no warning', out)


def main():
    mp.need_root('capabilities and namespaces')
    if not shutil.which('setpriv'):
        mp.skip('least privilege', 'setpriv (util-linux) is not installed')
        mp.done()
    caps = unit_caps('AmbientCapabilities')
    mp.check(caps and caps == unit_caps('CapabilityBoundingSet') and 'CAP_SYS_ADMIN' not in caps,
             'the unit grants one small set (ambient = bounding, no CAP_SYS_ADMIN)', str(caps))
    tmp = tempfile.mkdtemp(prefix='mp-privs-')
    try:
        os.chmod(tmp, 0o755)
        # A copy the unprivileged user can reach whatever the checkout's permissions.
        binary = os.path.join(tmp, 'mysqlprobe')
        shutil.copy(mp.BIN, binary)
        os.chmod(binary, 0o755)
        install_case(tmp)
        with mp.Netns('privs') as ns:
            db = mp.MariaDB(port=PORT, netns=ns)
            try:
                cases = [
                    lambda: capture_case('tc, the unit\'s capabilities', db, ns, binary, caps,
                                         'tc', 'tc'),
                    lambda: capture_case('tc without CAP_BPF', db, ns, binary,
                                         [c for c in caps if c != 'CAP_BPF'], 'tc', 'pcap',
                                         want_missing='CAP_BPF'),
                    lambda: capture_case('xdp without CAP_NET_ADMIN', db, ns, binary,
                                         [c for c in caps if c != 'CAP_NET_ADMIN'], 'xdp',
                                         'pcap', want_missing='CAP_NET_ADMIN'),
                    lambda: capture_case('pcap with CAP_NET_RAW only', db, ns, binary,
                                         ['CAP_NET_RAW'], 'pcap', 'pcap'),
                    lambda: refused_case('pcap with no capability', ns, binary, [], 'pcap',
                                         'CAP_NET_RAW'),
                ]
                for case in cases:
                    try:
                        case()
                    except Exception as e:  # one case's failure must not hide the next
                        mp.fail('case raised', repr(e))
            finally:
                db.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    mp.done()


if __name__ == '__main__':
    main()
