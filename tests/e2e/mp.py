# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Shared fixtures for the end-to-end tests: TAP output, network namespaces,
a private MariaDB server, the agent process and tcpdump.

Everything here starts real programs; nothing is mocked. Conditions are polled,
never waited for with a bare sleep.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.environ.get('MP_ROOT') or os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
BIN = os.environ.get('MP_BIN') or os.path.join(ROOT, 'build/mysqlprobe')

# ---------------------------------------------------------------- TAP
_n = 0
_failed = 0


def ok(name):
    global _n
    _n += 1
    print(f'ok {_n} - {name}', flush=True)


def fail(name, why=''):
    global _n, _failed
    _n += 1
    _failed += 1
    print(f'not ok {_n} - {name}' + (f': {why}' if why else ''), flush=True)


def skip(name, why):
    global _n
    _n += 1
    print(f'ok {_n} - {name} # SKIP {why}', flush=True)


def check(cond, name, why=''):
    (ok if cond else fail)(name, *([why] if not cond else []))
    return cond


def diag(msg):
    for line in str(msg).splitlines():
        print(f'# {line}', flush=True)


def done():
    sys.exit(1 if _failed else 0)


def need_root(name):
    if os.geteuid() != 0:
        skip(name, 'needs root (BPF, namespaces)')
        done()


def poll(cond, timeout=20.0, every=0.02, what='condition'):
    """Polls cond() until it returns a truthy value; raises TimeoutError otherwise."""
    end = time.time() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.time() > end:
            raise TimeoutError(f'timed out after {timeout}s waiting for {what}')
        time.sleep(every)


def wait_until(cond, timeout=20.0, every=0.02, what='condition'):
    """poll() for waits whose outcome the caller checks itself: False at the timeout."""
    try:
        return poll(cond, timeout=timeout, every=every, what=what)
    except TimeoutError:
        return False


# ---------------------------------------------------------------- namespaces
class Netns:
    """A network namespace of our own; deleting it removes every attachment in it."""

    def __init__(self, tag):
        self.name = f'mpt-{tag}-{os.getpid()}'
        subprocess.run(['ip', 'netns', 'add', self.name], check=True)
        self.run(['ip', 'link', 'set', 'lo', 'up'])

    def cmd(self, argv):
        return ['ip', 'netns', 'exec', self.name] + list(argv)

    def run(self, argv, check=True, **kw):
        return subprocess.run(self.cmd(argv), check=check, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)

    def popen(self, argv, **kw):
        return subprocess.Popen(self.cmd(argv), **kw)

    def close(self):
        subprocess.run(['ip', 'netns', 'del', self.name], check=False)

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


def veth_pair(ns_a, ns_b, addr_a='10.231.0.1', addr_b='10.231.0.2'):
    """Connects two namespaces with a veth pair named mpa/mpb (inside each namespace)."""
    tmp_a, tmp_b = f'mpa{os.getpid() % 100000}', f'mpb{os.getpid() % 100000}'
    subprocess.run(['ip', 'link', 'add', tmp_a, 'type', 'veth', 'peer', 'name', tmp_b],
                   check=True)
    subprocess.run(['ip', 'link', 'set', tmp_a, 'netns', ns_a.name, 'name', 'mpa'], check=True)
    subprocess.run(['ip', 'link', 'set', tmp_b, 'netns', ns_b.name, 'name', 'mpb'], check=True)
    ns_a.run(['ip', 'addr', 'add', f'{addr_a}/24', 'dev', 'mpa'])
    ns_b.run(['ip', 'addr', 'add', f'{addr_b}/24', 'dev', 'mpb'])
    ns_a.run(['ip', 'link', 'set', 'mpa', 'up'])
    ns_b.run(['ip', 'link', 'set', 'mpb', 'up'])


def wrap(netns, argv):
    return netns.cmd(argv) if netns else list(argv)


# ---------------------------------------------------------------- MariaDB
class MariaDB:
    """A private mariadbd: own datadir in a temp dir, own port, performance_schema on.

    User 'mp' / password 'mp' has every privilege and database 'mp' exists.
    """

    def __init__(self, port=3306, netns=None, bind='127.0.0.1', extra=()):
        self.port, self.netns, self.bind = port, netns, bind
        self.dir = tempfile.mkdtemp(prefix='mp-mariadb-')
        os.chmod(self.dir, 0o755)
        self.datadir = os.path.join(self.dir, 'data')
        self.sock = os.path.join(self.dir, 'mysqld.sock')
        self.log = os.path.join(self.dir, 'error.log')
        subprocess.run(['mariadb-install-db', '--no-defaults', f'--datadir={self.datadir}',
                        '--user=root', '--auth-root-authentication-method=normal',
                        '--skip-test-db'], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        argv = ['mariadbd', '--no-defaults', f'--datadir={self.datadir}', '--user=root',
                f'--socket={self.sock}', f'--port={port}', f'--bind-address={bind}',
                f'--pid-file={self.dir}/mysqld.pid', f'--log-error={self.log}',
                '--skip-name-resolve', '--performance-schema=ON',
                '--performance-schema-consumer-events-statements-current=ON',
                '--performance-schema-consumer-events-statements-history-long=ON',
                '--performance-schema-events-statements-history-long-size=100000',
                '--performance-schema-max-digest-length=4096', '--max-connections=500',
                '--innodb-buffer-pool-size=128M', '--innodb-log-file-size=64M',
                '--innodb-flush-log-at-trx-commit=0', '--max-allowed-packet=64M',
                '--local-infile=1', '--secure-file-priv='] + list(extra)
        self.proc = subprocess.Popen(wrap(netns, argv), stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        try:
            poll(lambda: self._ping(), timeout=60, every=0.1, what='mariadbd to accept')
        except TimeoutError:
            with open(self.log) as f:
                diag(f.read()[-3000:])
            self.stop()
            raise
        self.sql("CREATE USER IF NOT EXISTS 'mp'@'%' IDENTIFIED BY 'mp';"
                 "GRANT ALL ON *.* TO 'mp'@'%' WITH GRANT OPTION;"
                 "CREATE DATABASE IF NOT EXISTS mp;", socket=True, db=None)

    def _ping(self):
        if self.proc.poll() is not None:
            raise RuntimeError(f'mariadbd exited with {self.proc.returncode}')
        r = subprocess.run(['mariadb-admin', '--no-defaults', f'--socket={self.sock}',
                            '-uroot', 'ping'], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        return r.returncode == 0

    def client_argv(self, user='mp', password='mp', db='mp', socket=False, extra=()):
        conn = [f'--socket={self.sock}'] if socket else ['-h', self.bind, '-P', str(self.port),
                                                          '--protocol=tcp']
        a = ['mariadb', '--no-defaults'] + conn + [f'-u{user}']
        if password:
            a.append(f'-p{password}')
        if db:
            a.append(db)
        return a + list(extra)

    def sql(self, q, socket=False, db='mp', user=None, extra=(), check=True):
        """Runs q with the mariadb client; over TCP unless socket=True. Returns rows."""
        if socket:
            argv = ['mariadb', '--no-defaults', f'--socket={self.sock}', '-uroot']
            if db:
                argv.append(db)
        else:
            argv = self.client_argv(user=user or 'mp', db=db)
        argv += ['-N', '-B'] + list(extra) + ['-e', q]
        r = subprocess.run(wrap(self.netns if not socket else None, argv), text=True,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if check and r.returncode != 0:
            raise RuntimeError(f'mariadb: {r.stderr.strip()}')
        return [l.split('\t') for l in r.stdout.splitlines()]

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.stop()


# ---------------------------------------------------------------- the agent
class Agent:
    """build/mysqlprobe running in the background; stdout lines collected as they come.
    wrapper: a command that runs the agent (e.g. setpriv with a capability set)."""

    def __init__(self, args, netns=None, env=None, wrapper=(), binary=None):
        self.argv = wrap(netns, list(wrapper) + [binary or BIN] + list(args))
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=env, errors='replace')
        self.lines, self.err = [], []
        self._t = [threading.Thread(target=self._pump, args=(self.proc.stdout, self.lines)),
                   threading.Thread(target=self._pump, args=(self.proc.stderr, self.err))]
        for t in self._t:
            t.daemon = True
            t.start()

    @staticmethod
    def _pump(f, out):
        for line in f:
            out.append(line.rstrip('\n'))

    def wait_ready(self, timeout=20):
        """The agent prints 'ready' on stderr once capture is attached."""
        def ready():
            if self.proc.poll() is not None:
                raise RuntimeError('agent exited %s: %s' % (self.proc.returncode,
                                                             '\n'.join(self.err[-20:])))
            return any('ready' in l for l in self.err)
        poll(ready, timeout=timeout, what='agent ready')

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for t in self._t:
            t.join(5)
        return self.proc.returncode

    def json_lines(self):
        out = []
        for l in self.lines:
            if l.startswith('{'):
                out.append(json.loads(l))
        return out


# ---------------------------------------------------------------- tcpdump
class Tcpdump:
    """tcpdump writing a pcap of the given ports; stop() returns once it has flushed.

    buffer_kib sets the kernel buffer (-B): bursts of several MB on lo overflow tcpdump's
    default 2 MiB, and on a loaded machine even small captures can then have holes."""

    def __init__(self, path, ports, dev='lo', netns=None, snaplen=262144, linktype=None,
                 buffer_kib=65536):
        flt = ' or '.join(f'tcp port {p}' for p in ports)
        self.path = path
        lt = ['-y', linktype] if linktype else []
        self.proc = subprocess.Popen(wrap(netns, ['tcpdump', '-i', dev, '-s', str(snaplen),
                                                  '-B', str(buffer_kib)] + lt +
                                          ['-U', '-w', path, '--immediate-mode', flt]),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True)
        # tcpdump says 'listening on' once its socket is open (after a 'data link
        # type' line when -y is given).
        self.err = self.proc.stderr.readline()
        if linktype and 'data link type' in self.err:
            self.err += self.proc.stderr.readline()
        if 'listening' not in self.err:
            raise RuntimeError(f'tcpdump failed: {self.err}')

    def stop(self):
        self.proc.send_signal(signal.SIGINT)
        self.err += self.proc.stderr.read()
        self.proc.wait(30)
        return self.err


def tcpdump_segments(path, ports):
    """(dir, seq, len) for every segment in a pcap that carries payload or SYN/FIN/RST,
    read with tcpdump's own decoder (-S absolute sequence numbers)."""
    r = subprocess.run(['tcpdump', '-r', path, '-nn', '-S', '-tt', '-v'], text=True,
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    return parse_tcpdump_text(r.stdout, ports)


def parse_tcpdump_text(text, ports):
    import re
    out = []
    rx = re.compile(r'(\S+)\.(\d+) > (\S+)\.(\d+): Flags \[([^\]]*)\],(?: cksum \S+ \([^)]*\),)?'
                    r' seq (\d+)(?::(\d+))?.*?length (\d+)')
    # With -v, tcpdump puts the IP header on one line and TCP on the next.
    for line in text.splitlines():
        m = rx.search(line)
        if not m:
            continue
        sport, dport = int(m.group(2)), int(m.group(4))
        flags, seq, length = m.group(5), int(m.group(6)), int(m.group(8))
        if dport in ports:
            d = 'to_server'
        elif sport in ports:
            d = 'to_client'
        else:
            continue
        if length == 0 and not any(c in flags for c in 'SFR'):
            continue
        out.append((d, seq, length))
    return out


# ---------------------------------------------------------------- reports and the HTTP API
def enter_netns(ns):
    """Moves this test process into ns, so its own sockets (pymysql, websocket, HTTP) reach
    servers listening there. Call before starting threads: threads inherit it."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(f'/run/netns/{ns.name}', os.O_RDONLY)
    try:
        if libc.setns(fd, 0x40000000) != 0:  # CLONE_NEWNET
            raise OSError(ctypes.get_errno(), 'setns')
    finally:
        os.close(fd)


def http_get(url, token=None, timeout=10):
    """GET url; returns (status, body text). Errors come back as statuses, not exceptions."""
    import urllib.error
    import urllib.request
    req = urllib.request.Request(url)
    if token is not None:
        req.add_header('Authorization', f'Bearer {token}')
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


class Collector:
    """A /collector websocket client in a thread: every report with its arrival time.

    Binary frames are snappy raw blocks (python3-snappy), ?format=json gives text frames;
    since=SEQ asks for the buffered reports after SEQ first."""

    def __init__(self, port, json_format=False, host='127.0.0.1', since=None, token=None):
        import websocket
        query = (['format=json'] if json_format else []) + \
            ([f'since={since}'] if since is not None else [])
        url = f'ws://{host}:{port}/collector' + ('?' + '&'.join(query) if query else '')
        header = [f'Authorization: Bearer {token}'] if token is not None else []
        self.ws = websocket.create_connection(url, timeout=30, header=header)
        self.json_format = json_format
        self.reports = []   # (arrival monotonic time, report dict)
        self.frames = set()  # opcode names seen
        self.closed = False
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self):
        import snappy
        import websocket
        while True:
            try:
                op, data = self.ws.recv_data()
            except Exception:
                break
            if op == websocket.ABNF.OPCODE_CLOSE:
                break
            self.frames.add('text' if op == websocket.ABNF.OPCODE_TEXT else 'binary')
            text = data if op == websocket.ABNF.OPCODE_TEXT else snappy.uncompress(data)
            self.reports.append((time.monotonic(), json.loads(text)))
        self.closed = True

    def wait(self, n, timeout=30):
        """Waits until at least n reports arrived; returns them (dicts)."""
        poll(lambda: len(self.reports) >= n, timeout=timeout, what=f'{n} reports')
        return [r for _, r in self.reports]

    def close(self):
        try:
            self.ws.close()
        except Exception:
            pass
        self._t.join(5)


def report_counts(reports):
    """Sum of count over every stats row of the reports."""
    return sum(row['count'] for r in reports for row in r['stats'])


# ---------------------------------------------------------------- pcap files
def read_pcap(path):
    """(linktype, nanosecond?, [(ts_sec, ts_frac, caplen, origlen, data)]) of a pcap file."""
    import struct
    with open(path, 'rb') as f:
        buf = f.read()
    magic = struct.unpack('<I', buf[:4])[0]
    if magic not in (0xa1b2c3d4, 0xa1b23c4d):
        raise ValueError(f'{path}: not a little-endian pcap file')
    nano = magic == 0xa1b23c4d
    linktype = struct.unpack('<I', buf[20:24])[0]
    off, recs = 24, []
    while off + 16 <= len(buf):
        s, frac, cap, orig = struct.unpack('<IIII', buf[off:off + 16])
        recs.append((s, frac, cap, orig, buf[off + 16:off + 16 + cap]))
        off += 16 + cap
    return linktype, nano, recs


def write_pcap(path, linktype, nano, recs):
    """Writes records as read_pcap returns them; caplen is taken from the data."""
    import struct
    with open(path, 'wb') as f:
        f.write(struct.pack('<IHHiIII', 0xa1b23c4d if nano else 0xa1b2c3d4, 2, 4, 0, 0,
                            262144, linktype))
        for s, frac, cap, orig, data in recs:
            f.write(struct.pack('<IIII', s, frac, len(data), orig - (cap - len(data))))
            f.write(data)


def tcpdump_dropped(stop_output):
    """Packets tcpdump says the kernel dropped (its summary at exit), or None if unsaid."""
    import re
    m = re.search(r'(\d+) packets? dropped by kernel', stop_output)
    return int(m.group(1)) if m else None


def tcp_of(frame):
    """(src, dst, sport, dport, seq, ack, flags, payload) of an Ethernet IPv4 TCP frame
    (addresses as dotted strings, flags the TCP flag byte), or None for anything else."""
    import socket
    import struct
    if len(frame) < 34 or frame[12:14] != b'\x08\x00' or frame[14] >> 4 != 4:
        return None
    ip = frame[14:]
    ihl = (ip[0] & 15) * 4
    if ip[9] != 6 or len(ip) < ihl + 20:
        return None
    total = struct.unpack('>H', ip[2:4])[0]
    tcp = ip[ihl:]
    sport, dport, seq, ack = struct.unpack('>HHII', tcp[:12])
    doff = (tcp[12] >> 4) * 4
    return (socket.inet_ntoa(ip[12:16]), socket.inet_ntoa(ip[16:20]), sport, dport, seq, ack,
            tcp[13], bytes(tcp[doff:total - ihl]))


def tcp_frame(src, dst, sport, dport, seq, ack, flags, payload):
    """An Ethernet IPv4 TCP frame (checksums left zero: nothing here verifies them).
    flags is the TCP flag byte (0x02 SYN, 0x10 ACK, 0x18 PSH|ACK, 0x01 FIN, 0x04 RST)."""
    import socket
    import struct
    tcp = struct.pack('>HHIIBBHHH', sport, dport, seq & 0xffffffff, ack & 0xffffffff, 5 << 4,
                      flags, 65535, 0, 0)
    ip = struct.pack('>BBHHHBBH4s4s', 0x45, 0, 20 + len(tcp) + len(payload), 0, 0x4000, 64, 6,
                     0, socket.inet_aton(src), socket.inet_aton(dst))
    return b'\0' * 12 + b'\x08\x00' + ip + tcp + bytes(payload)


# ---------------------------------------------------------------- small shared helpers
def agent_counters(err, what):
    """The key=value counters of the agent's last 'mysqlprobe: <what>:' stderr line
    ('decode' or 'capture'); err is the stderr text or a list of its lines."""
    import re
    lines = err.splitlines() if isinstance(err, str) else err
    lines = [l for l in lines if f'mysqlprobe: {what}:' in l]
    return {k: int(v) for k, v in re.findall(r'(\w+)=(\d+)', lines[-1])} if lines else {}


def run_py(ns, code, *args, timeout=120):
    """Runs a Python snippet with Debian's interpreter inside ns (its modules: pymysql, ...);
    returns its stdout, raises with its stderr when it fails."""
    r = subprocess.run(ns.cmd(['/usr/bin/python3', '-c', code] + [str(a) for a in args]),
                       text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout)
    if r.returncode:
        raise RuntimeError(r.stderr[-2000:])
    return r.stdout


def remove_unless_kept(path):
    """Deletes a test's scratch directory unless MP_TEST_KEEP asks to keep it for a look."""
    if os.environ.get('MP_TEST_KEEP'):
        diag(f'kept {path}')
    else:
        shutil.rmtree(path, ignore_errors=True)

