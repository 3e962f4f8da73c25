# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""A private clickhouse-server (Debian's 18.16) for a test: its own directory, its own ports,
started in the test's namespace, stopped and removed when its scope ends."""
import os
import shutil
import subprocess
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

import mp


class ClickHouse:
    """clickhouse-server with the packaged config rewritten: ports, every path under a temp
    dir, loopback IPv4 only (the test's namespace may have no ::1). stop()/start() keep the
    data, as an outage and a recovery do."""

    def __init__(self, netns=None, http_port=18123, tcp_port=19000):
        self.netns, self.http_port, self.tcp_port = netns, http_port, tcp_port
        self.proc = None
        self.dir = mp.tempdir('mp-clickhouse-', 0o755)
        self._undo = mp.defer(self._stop, f'clickhouse-server in {self.dir}')
        self.config = os.path.join(self.dir, 'config.xml')
        self._write_config()
        self.start()

    def _write_config(self):
        tree = ET.parse('/etc/clickhouse-server/config.xml')
        root = tree.getroot()
        d = self.dir
        top = {'http_port': self.http_port, 'tcp_port': self.tcp_port,
               'interserver_http_port': self.tcp_port + 9, 'path': f'{d}/data/',
               'tmp_path': f'{d}/tmp/', 'user_files_path': f'{d}/user_files/',
               'format_schema_path': f'{d}/format_schemas/'}
        for tag, value in top.items():
            el = root.find(tag)
            if el is None:
                el = ET.SubElement(root, tag)
            el.text = str(value)
        for tag in ('https_port', 'tcp_port_secure', 'mysql_port'):
            for el in root.findall(tag):
                root.remove(el)
        for el in root.findall('listen_host'):
            root.remove(el)
        ET.SubElement(root, 'listen_host').text = '127.0.0.1'
        log = root.find('logger')
        log.find('log').text = f'{d}/server.log'
        log.find('errorlog').text = f'{d}/server.err.log'
        users = root.find('users_config')
        shutil.copy('/etc/clickhouse-server/users.xml', f'{d}/users.xml')
        users.text = f'{d}/users.xml'
        tree.write(self.config)

    def start(self, timeout=60):
        with open(os.path.join(self.dir, 'stderr.log'), 'a') as err:
            self.proc = subprocess.Popen(
                mp.wrap(self.netns, ['clickhouse-server', f'--config-file={self.config}']),
                stdout=subprocess.DEVNULL, stderr=err, cwd=self.dir)
        mp.poll(self._ping, timeout=timeout, every=0.1, what='clickhouse-server /ping')

    def _ping(self):
        if self.proc.poll() is not None:
            raise RuntimeError(f'clickhouse-server exited {self.proc.returncode}: '
                               f'{self.log_tail()}')
        try:
            with urllib.request.urlopen(f'{self.url}ping', timeout=2) as r:
                return r.status == 200
        except (OSError, urllib.error.URLError):
            return False

    def log_tail(self, lines=20):
        text = ''
        for name in ('stderr.log', 'server.err.log'):
            try:
                with open(os.path.join(self.dir, name), errors='replace') as f:
                    text += f.read()
            except OSError:
                pass
        return '\n'.join(text.splitlines()[-lines:])

    @property
    def url(self):
        return f'http://127.0.0.1:{self.http_port}/'

    def query(self, q):
        """Runs q over HTTP; returns the rows (TabSeparated, split)."""
        req = urllib.request.Request(self.url, data=q.encode())
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                text = r.read().decode()
        except urllib.error.HTTPError as e:
            raise RuntimeError(f'clickhouse: {e.read().decode().strip()[:300]}') from None
        return [l.split('\t') for l in text.splitlines()]

    def _stop(self):
        if self.proc:
            mp.stop_process(self.proc, timeout=60)

    def stop_server(self):
        """An outage: the server exits, its data stays for start()."""
        self._stop()
        self.proc = None

    def stop(self):
        self._undo()
