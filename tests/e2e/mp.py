# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Shared fixtures for the end-to-end tests: TAP output, one cleanup path, network
namespaces, a private MariaDB server, the agent process and tcpdump.

Everything here starts real programs; nothing is mocked. Conditions are polled,
never waited for with a bare sleep.

Cleanup: everything a test creates (namespace, veth, process, temp dir) registers an undo
action on one stack as soon as it exists. The stack runs newest first when the object is
closed, when a scope() or case() block ends (normally or by an exception), at exit, and on
SIGTERM, SIGINT or SIGHUP. A test needs no try/finally of its own: nothing it started
outlives it, however it ends. A setup command that fails raises SetupError, whose message
holds the command, its exit status and its stderr.
"""
import atexit
import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback

ROOT = os.environ.get('MP_ROOT') or os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
BIN = os.environ.get('MP_BIN') or os.path.join(ROOT, 'build/mysqlprobe')

# ---------------------------------------------------------------- TAP
_n = 0
_failed = 0
_tap_lock = threading.RLock()


def _tap(line):
    global _n
    with _tap_lock:
        _n += 1
        print(line.replace('{n}', str(_n), 1), flush=True)


def ok(name):
    _tap(f'ok {{n}} - {name}')


def fail(name, why=''):
    """A failing line; a multi-line why goes on as diagnostics, so no line of it can read
    as a TAP line of its own."""
    global _failed
    _failed += 1
    first, *rest = str(why).split('\n') if why else ['']
    with _tap_lock:
        _tap(f'not ok {{n}} - {name}' + (f': {first}' if first else ''))
        if rest:
            diag('\n'.join(rest))


def skip(name, why):
    _tap(f'ok {{n}} - {name} # SKIP {why}')


def check(cond, name, why=''):
    (ok if cond else fail)(name, *([why] if not cond else []))
    return cond


def diag(msg):
    for line in str(msg).splitlines():
        print(f'# {line}', flush=True)


def done():
    sys.exit(1 if _failed else 0)


# ---------------------------------------------------------------- cleanup
class SetupError(subprocess.CalledProcessError):
    """A command a test needed failed; str() names the command and gives its stderr."""

    def __str__(self):
        err = (self.stderr or '').strip() if isinstance(self.stderr, str) else ''
        why = f'exit status {self.returncode}' if self.returncode >= 0 else \
            f'signal {-self.returncode}'
        cmd = shlex.join(self.cmd)
        cmd = cmd if len(cmd) < 300 else cmd[:300] + '...'
        return f'`{cmd}` failed ({why})' + (
            f':\n{err[-3000:]}' if err else ' and printed nothing on stderr') + _hint(err)


def _hint(err):
    if 'mount --make-rslave' in err or 'mount of /sys failed' in err:
        return ('\n(ip netns exec needs / to be a mount point: in a chroot, run '
                '`mount --bind DIR DIR` before chrooting into DIR; see README.md)')
    return ''


_undo = []                      # the stack: _Undo objects, oldest first
_undo_seq = 0                   # numbers them in creation order: a scope starts at one
_undo_lock = threading.RLock()
_owner = os.getpid()            # a forked child never runs its parent's undo actions
_cleaning = 0                   # > 0 while undo actions run: signals wait for them
_pending_signal = None
_exiting = False


class _Undo:
    """One undo action; calling it runs it once and takes it off the stack."""

    def __init__(self, fn, what, seq):
        self.fn, self.what, self.seq, self.done = fn, what, seq, False

    def __call__(self):
        global _cleaning, _pending_signal
        _cleaning += 1  # from here a signal waits until the action is done
        try:
            with _undo_lock:
                if self.done:
                    return
                self.done = True
                if self in _undo:
                    _undo.remove(self)
            try:
                self.fn()
            except Exception as e:  # one failed undo must not stop the others
                fail(f'cleanup: {self.what}', f'{type(e).__name__}: {e}')
        finally:
            _cleaning -= 1
            if not _cleaning and _pending_signal and not _exiting:
                sig, _pending_signal = _pending_signal, None
                raise SystemExit(128 + sig)  # what is left is undone at exit


def defer(fn, what):
    """Registers fn to undo something that now exists; returns a callable that runs it at
    once (and only once). Whatever is not undone by then is undone at exit."""
    global _undo_seq
    with _undo_lock:
        _undo_seq += 1
        u = _Undo(fn, what, _undo_seq)
        _undo.append(u)
    return u


def cleanup(mark=0):
    """Runs every undo action registered since mark (a _mark(); 0: all), newest first."""
    if os.getpid() != _owner:
        return
    while True:
        with _undo_lock:
            if not _undo or _undo[-1].seq <= mark:
                break
            u = _undo[-1]
        u()


def _mark():
    with _undo_lock:
        return _undo_seq


@contextlib.contextmanager
def scope():
    """Undoes, when the block ends however it ends, everything created inside it."""
    mark = _mark()
    try:
        yield
    finally:
        cleanup(mark)


@contextlib.contextmanager
def case(name):
    """One independent part of a test: an exception in it is one failing TAP line naming
    the cause (the next case still runs), and whatever it created is removed either way."""
    mark = _mark()
    try:
        yield
    except Exception as e:
        fail(name, f'{type(e).__name__}: {e}'.splitlines()[0])
        diag(''.join(traceback.format_exception(type(e), e, e.__traceback__)).rstrip())
    finally:
        cleanup(mark)


def _on_signal(sig, _frame):
    """SIGTERM/SIGINT/SIGHUP unwind like an exception, so with-blocks and the undo stack run."""
    global _pending_signal
    if _cleaning:
        _pending_signal = sig  # raised once the undo actions in progress are done
        return
    raise SystemExit(128 + sig)


def _excepthook(typ, e, tb):
    """An uncaught exception is a failing TAP line with its message, then the traceback."""
    msg = str(e).splitlines()[0] if str(e) else ''
    fail(f'{os.path.basename(sys.argv[0])} stopped', f'{typ.__name__}: {msg}')
    diag(''.join(traceback.format_exception(typ, e, tb)).rstrip())


def _at_exit():
    global _exiting
    _exiting = True
    cleanup(0)


sys.excepthook = _excepthook
atexit.register(_at_exit)
if threading.current_thread() is threading.main_thread():
    for _sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(_sig, _on_signal)


def sh(argv, netns=None, input=None, timeout=300, check=True):
    """Runs a command (in netns if given) to completion; returns the CompletedProcess (text
    stdout and stderr). check: a non-zero exit raises SetupError with the command and its
    stderr."""
    argv = wrap(netns, argv)
    r = subprocess.run(argv, input=input, text=True, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout, errors='replace')
    if check and r.returncode != 0:
        raise SetupError(r.returncode, argv, r.stdout, r.stderr)
    return r


def spawn(argv, netns=None, what=None, **kw):
    """Popen(argv) in netns, stopped (SIGTERM, then SIGKILL after 10 s) when its scope ends
    or at exit. Stop it earlier with stop_process()."""
    p = subprocess.Popen(wrap(netns, argv), **kw)
    p.mp_undo = defer(lambda: stop_process(p), what or f'process {shlex.join(argv)[:80]}')
    return p


def stop_process(p, sig=signal.SIGTERM, timeout=10):
    """Sends sig if p still runs, waits up to timeout, then SIGKILL. Returns its exit code."""
    if p.poll() is None:
        try:
            p.send_signal(sig)
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    _forget(getattr(p, 'mp_undo', None))
    return p.returncode


def _forget(undo):
    """Takes an undo action off the stack without running it (its work was done)."""
    if undo:
        with _undo_lock:
            undo.done = True
            if undo in _undo:
                _undo.remove(undo)


def tempdir(prefix='mp-', mode=None):
    """A temp dir removed when its scope ends or at exit (kept when MP_TEST_KEEP is set)."""
    return _mkdtemp(prefix, mode)[0]


def _mkdtemp(prefix, mode):
    path = tempfile.mkdtemp(prefix=prefix)
    if mode is not None:
        os.chmod(path, mode)
    return path, defer(lambda: _remove_tree(path), f'temp dir {path}')


def _remove_tree(path):
    if os.environ.get('MP_TEST_KEEP'):
        diag(f'kept {path}')
    else:
        shutil.rmtree(path, ignore_errors=True)


def need_root(name):
    """Skips the whole test, with the reason, unless we are root and can use network
    namespaces (ip netns add + exec)."""
    why = 'needs root (BPF, namespaces)' if os.geteuid() != 0 else netns_unusable()
    if why:
        skip(name, why)
        done()


_netns_probe = None


def netns_unusable():
    """'' when ip netns add/exec work here, else why not (the failing command's stderr)."""
    global _netns_probe
    if _netns_probe is None:
        try:
            with scope():
                Netns('probe')
            _netns_probe = ''
        except (OSError, SetupError) as e:
            _netns_probe = f'network namespaces unusable here: {e}'.replace('\n', ' ')
    return _netns_probe


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
    """A network namespace of our own; deleting it removes every attachment in it. close()
    (or the end of its scope, or exit) kills what still runs in it and deletes it."""

    def __init__(self, tag):
        self.name = f'mpt-{tag}-{os.getpid()}'
        sh(['ip', 'netns', 'add', self.name])
        self._undo = defer(self._delete, f'netns {self.name}')
        self.run(['ip', 'link', 'set', 'lo', 'up'])

    def cmd(self, argv):
        return ['ip', 'netns', 'exec', self.name] + list(argv)

    def run(self, argv, check=True, **kw):
        """Runs argv in the namespace; check: a failure raises SetupError (command, stderr)."""
        return sh(argv, netns=self, check=check, **kw)

    def popen(self, argv, **kw):
        return spawn(argv, netns=self, **kw)

    def pids(self):
        """Processes in the namespace, other than this one and its ancestors."""
        try:
            st = os.stat(f'/run/netns/{self.name}')
        except FileNotFoundError:
            return []
        mine, p = set(), os.getpid()
        while p > 1:
            mine.add(p)
            p = _ppid(p)
        out = []
        for d in os.listdir('/proc'):
            if not d.isdigit() or int(d) in mine:
                continue
            try:
                ns = os.stat(f'/proc/{d}/ns/net')
            except OSError:
                continue
            if (ns.st_dev, ns.st_ino) == (st.st_dev, st.st_ino):
                out.append(int(d))
        return out

    def _delete(self):
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for pid in self.pids():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
            if wait_until(lambda: not self.pids(), timeout=5, every=0.05):
                break
        r = sh(['ip', 'netns', 'del', self.name], check=False)
        path = f'/run/netns/{self.name}'
        if r.returncode and os.path.exists(path):
            # What ip netns del does, step by step, so whatever fails says so.
            sh(['umount', '-l', path], check=False)
            os.unlink(path)

    def close(self):
        self._undo()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


def _ppid(pid):
    try:
        with open(f'/proc/{pid}/stat') as f:
            return int(f.read().rsplit(')', 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def veth_pair(ns_a, ns_b, addr_a='10.231.0.1', addr_b='10.231.0.2', name_a='mpa',
              name_b='mpb'):
    """Connects two namespaces with a veth pair named name_a/name_b (inside each namespace)."""
    tag = f'{os.getpid() % 100000}{name_a[-2:]}'
    tmp_a, tmp_b = f'mpa{tag}', f'mpb{tag}'
    sh(['ip', 'link', 'add', tmp_a, 'type', 'veth', 'peer', 'name', tmp_b])
    # Until both ends moved, the pair lives in our namespace: deleting one end removes both.
    # Once moved, deleting either namespace removes it and this finds nothing to do.
    defer(lambda: [sh(['ip', 'link', 'del', n], check=False) for n in (tmp_a, tmp_b)],
          f'veth {tmp_a}/{tmp_b}')
    sh(['ip', 'link', 'set', tmp_a, 'netns', ns_a.name, 'name', name_a])
    sh(['ip', 'link', 'set', tmp_b, 'netns', ns_b.name, 'name', name_b])
    ns_a.run(['ip', 'addr', 'add', f'{addr_a}/24', 'dev', name_a])
    ns_b.run(['ip', 'addr', 'add', f'{addr_b}/24', 'dev', name_b])
    ns_a.run(['ip', 'link', 'set', name_a, 'up'])
    ns_b.run(['ip', 'link', 'set', name_b, 'up'])


def wrap(netns, argv):
    return netns.cmd(argv) if netns else list(argv)


# ---------------------------------------------------------------- MariaDB
class MariaDB:
    """A private mariadbd: own datadir in a temp dir, own port, performance_schema on.

    User 'mp' / password 'mp' has every privilege and database 'mp' exists. A server that
    exits before it is ready raises at once, with the tail of its error log.
    """

    def __init__(self, port=3306, netns=None, bind='127.0.0.1', extra=(), ready_timeout=60):
        self.port, self.netns, self.bind = port, netns, bind
        self.proc = None
        self.dir, self._undo_dir = _mkdtemp('mp-mariadb-', 0o755)
        self._undo = defer(self._stop, f'mariadbd in {self.dir}')
        self.datadir = os.path.join(self.dir, 'data')
        self.sock = os.path.join(self.dir, 'mysqld.sock')
        self.log = os.path.join(self.dir, 'error.log')
        try:
            self._start(extra, ready_timeout)
            self.sql("CREATE USER IF NOT EXISTS 'mp'@'%' IDENTIFIED BY 'mp';"
                     "GRANT ALL ON *.* TO 'mp'@'%' WITH GRANT OPTION;"
                     "CREATE DATABASE IF NOT EXISTS mp;", socket=True, db=None)
        except BaseException:
            self.stop()  # a server that never got ready leaves nothing behind
            raise

    def _start(self, extra, ready_timeout):
        # A private tmpdir: servers bootstrapped at once in other namespaces share /tmp.
        tmp = os.path.join(self.dir, 'tmp')
        os.makedirs(tmp, exist_ok=True)
        sh(['mariadb-install-db', '--no-defaults', f'--datadir={self.datadir}', '--user=root',
            '--auth-root-authentication-method=normal', '--skip-test-db', f'--tmpdir={tmp}'])
        argv = ['mariadbd', '--no-defaults', f'--datadir={self.datadir}', '--user=root',
                f'--tmpdir={tmp}',
                f'--socket={self.sock}', f'--port={self.port}', f'--bind-address={self.bind}',
                f'--pid-file={self.dir}/mysqld.pid', f'--log-error={self.log}',
                '--skip-name-resolve', '--performance-schema=ON',
                '--performance-schema-consumer-events-statements-current=ON',
                '--performance-schema-consumer-events-statements-history-long=ON',
                '--performance-schema-events-statements-history-long-size=100000',
                '--performance-schema-max-digest-length=4096', '--max-connections=500',
                '--innodb-buffer-pool-size=128M', '--innodb-log-file-size=64M',
                '--innodb-flush-log-at-trx-commit=0', '--max-allowed-packet=64M',
                '--local-infile=1', '--secure-file-priv='] + list(extra)
        # stderr to a file: ip netns exec and mariadbd's first complaints land there.
        with open(os.path.join(self.dir, 'stderr.log'), 'w') as err:
            self.proc = subprocess.Popen(wrap(self.netns, argv), stdout=subprocess.DEVNULL,
                                         stderr=err)
        try:
            poll(self._ping, timeout=ready_timeout, every=0.05, what='mariadbd to accept')
        except TimeoutError as e:
            raise RuntimeError(f'{e}; {self.log_tail()}') from None

    def log_tail(self, lines=30):
        """The last lines of the error log (and anything the process said on stderr)."""
        text = ''
        for path in (os.path.join(self.dir, 'stderr.log'), self.log):
            with contextlib.suppress(OSError), open(path, errors='replace') as f:
                text += f.read()
        return 'mariadbd error log, last lines:\n' + '\n'.join(text.splitlines()[-lines:])

    def _ping(self):
        if self.proc.poll() is not None:
            raise RuntimeError(f'mariadbd exited with status {self.proc.returncode} before it '
                               f'was ready; {self.log_tail()}')
        r = subprocess.run(['mariadb-admin', '--no-defaults', f'--socket={self.sock}',
                            '-uroot', '--connect-timeout=2', 'ping'],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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
            dead = ''
            if self.proc.poll() is not None:
                dead = f'\nmariadbd exited with status {self.proc.returncode}; {self.log_tail()}'
            raise RuntimeError(f'mariadb: {r.stderr.strip()}{dead}')
        return [l.split('\t') for l in r.stdout.splitlines()]

    def _stop(self):
        if self.proc:
            stop_process(self.proc, timeout=30)

    def stop(self):
        """Stops the server and removes its directory; safe to call twice."""
        self._undo()
        self._undo_dir()

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
        self.proc.mp_undo = defer(self.stop, f'agent {shlex.join(self.argv)[:100]}')
        self.lines, self.err = [], []
        self.times, self.err_times = [], []  # monotonic arrival time of each line
        self._t = [threading.Thread(target=self._pump, args=(self.proc.stdout, self.lines,
                                                             self.times)),
                   threading.Thread(target=self._pump, args=(self.proc.stderr, self.err,
                                                             self.err_times))]
        for t in self._t:
            t.daemon = True
            t.start()

    @staticmethod
    def _pump(f, out, times=None):
        for line in f:
            if times is not None:
                times.append(time.monotonic())
            out.append(line.rstrip('\n'))

    def wait_ready(self, timeout=20):
        """The agent prints 'mysqlprobe: ready: ...' on stderr once capture is attached."""
        def ready():
            if self.proc.poll() is not None:
                raise RuntimeError('agent exited %s: %s' % (self.proc.returncode,
                                                             '\n'.join(self.err[-20:])))
            return any(l.startswith('mysqlprobe: ready:') for l in self.err)
        poll(ready, timeout=timeout, what='agent ready')

    def stop(self, sig=signal.SIGTERM, timeout=30):
        """Sends sig, waits for the exit (SIGKILL after timeout s); returns the exit code."""
        rc = stop_process(self.proc, sig, timeout)
        for t in self._t:
            t.join(5)
        return rc

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
        self.proc = spawn(['tcpdump', '-i', dev, '-s', str(snaplen), '-B', str(buffer_kib)] +
                          lt + ['-U', '-w', path, '--immediate-mode', flt], netns=netns,
                          what=f'tcpdump -w {path}', stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
        # tcpdump says 'listening on' once its socket is open (after a 'data link
        # type' line when -y is given).
        self.err = self.proc.stderr.readline()
        if linktype and 'data link type' in self.err:
            self.err += self.proc.stderr.readline()
        if 'listening' not in self.err:
            stop_process(self.proc)
            raise RuntimeError(f'tcpdump failed: {self.err}{self.proc.stderr.read()}')

    def stop(self):
        """SIGINT (tcpdump flushes and prints its summary); returns its stderr."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        self.err += self.proc.stderr.read()
        stop_process(self.proc, timeout=30)
        return self.err


def tcpdump_segments(path, ports):
    """(dir, seq, len) for every segment in a pcap that carries payload or SYN/FIN/RST,
    read with tcpdump's own decoder (-S absolute sequence numbers)."""
    r = subprocess.run(['tcpdump', '-r', path, '-nn', '-S', '-tt', '-v'], text=True,
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    return parse_tcpdump_text(r.stdout, ports)


def tcpdump_server_fins(path, ports):
    """How many FINs the server sent in a pcap still being written. tcpdump stops without
    reading what the kernel still holds for it, so a test that needs a connection's last
    packets in the file waits for the server's FIN (packets on lo reach it in order)."""
    r = subprocess.run(['tcpdump', '-r', path, '-nn', 'tcp[tcpflags] & tcp-fin != 0'],
                       text=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    n = 0
    for line in r.stdout.splitlines():
        m = re.search(r'\.(\d+) > \S+: Flags', line)
        if m and int(m.group(1)) in ports:
            n += 1
    return n


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


def http_up(url, timeout=2):
    """True once url answers 200; a port not listening yet is not an error, only 'not yet'."""
    try:
        return http_get(url, timeout=timeout)[0] == 200
    except OSError:
        return False


class Collector:
    """A /collector websocket client in a thread: every report with its arrival time.

    Binary frames are snappy raw blocks (python3-snappy), ?format=json gives text frames;
    since=SEQ asks for the buffered reports after SEQ first."""

    def __init__(self, port, json_format=False, host='127.0.0.1', since=None, token=None,
                 started=None):
        import websocket
        query = (['format=json'] if json_format else []) + \
            ([f'since={since}'] if since is not None else []) + \
            ([f'started={started}'] if started is not None else [])
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
    returns its stdout; a failure raises SetupError with its stderr."""
    return sh(['/usr/bin/python3', '-c', code] + [str(a) for a in args], netns=ns,
              timeout=timeout).stdout


SELECTS = r'''
import sys, pymysql
c = pymysql.connect(host=sys.argv[1], port=int(sys.argv[2]), user='mp', password='mp',
                    database='mp')
cur = c.cursor()
for i in range(int(sys.argv[3])):
    cur.execute('SELECT %d' % i)
    cur.fetchall()
c.close()
'''


def run_selects(ns, host, port, n):
    """n text-protocol `SELECT <i>` statements on one pymysql connection, from inside ns."""
    return run_py(ns, SELECTS, host, port, n)


def global_status(db, name):
    """A SHOW GLOBAL STATUS counter, read over the Unix socket (not captured, not counted)."""
    return int(db.sql(f"SHOW GLOBAL STATUS LIKE '{name}'", socket=True)[0][1])


def template_count(reports, prefix):
    """Statements in the reports' rows whose template text starts with prefix."""
    return sum(row['count'] for r in reports for row in r['stats']
               if r['templates'].get(row['template_id'], '').startswith(prefix))


def remove_unless_kept(path):
    """Deletes a test's scratch directory unless MP_TEST_KEEP asks to keep it for a look."""
    with _undo_lock:
        mine = [u for u in _undo if u.what == f'temp dir {path}']
    for u in mine:
        u()
    if not mine:
        _remove_tree(path)

