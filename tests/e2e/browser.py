# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Headless Debian chromium driven over the DevTools protocol (python3-websocket): load a
page, evaluate JavaScript in it, click, screenshot. Runs inside a test's namespace on a
kernel-chosen port; the test process must be in that namespace too (mp.enter_netns)."""
import base64
import json
import os
import shutil
import subprocess
import urllib.request

import mp


def chromium_missing():
    """'' when Debian's chromium is installed, else why the test must skip."""
    return '' if shutil.which('chromium') else 'chromium is not installed (.ci/deps.sh)'


class Chromium:
    """One headless browser with one page; stopped with its scope."""

    def __init__(self, netns, width=1000, height=800):
        import websocket
        self.dir = mp.tempdir('mp-chromium-')
        self.log = open(os.path.join(self.dir, 'stderr.log'), 'w')
        # --no-sandbox: the tests run as root, where chromium's sandbox refuses to start.
        argv = ['chromium', '--headless=new', '--no-sandbox', '--disable-gpu', '--no-first-run',
                '--no-default-browser-check', '--disable-extensions', '--mute-audio',
                f'--user-data-dir={self.dir}', '--remote-debugging-port=0',
                '--remote-allow-origins=*', f'--window-size={width},{height}', 'about:blank']
        # Its temp files (org.chromium.*) go below our dir, removed with it.
        tmp = os.path.join(self.dir, 'tmp')
        os.mkdir(tmp)
        self.proc = mp.spawn(argv, netns=netns, what='chromium', stdout=subprocess.DEVNULL,
                             stderr=self.log, env=dict(os.environ, TMPDIR=tmp))
        port_file = os.path.join(self.dir, 'DevToolsActivePort')

        def port():
            if self.proc.poll() is not None:
                raise RuntimeError(f'chromium exited {self.proc.returncode}: {self._tail()}')
            try:
                with open(port_file) as f:
                    return int(f.readline())
            except (OSError, ValueError):
                return None
        p = mp.poll(port, timeout=30, every=0.1, what='chromium DevTools port')
        with urllib.request.urlopen(f'http://127.0.0.1:{p}/json/list', timeout=10) as r:
            pages = [t for t in json.load(r) if t.get('type') == 'page']
        self.ws = websocket.create_connection(pages[0]['webSocketDebuggerUrl'], timeout=30)
        self.next_id = 0
        self.call('Page.enable')
        self.call('Runtime.enable')
        self.call('Emulation.setDeviceMetricsOverride', width=width, height=height,
                  deviceScaleFactor=1, mobile=False)

    def _tail(self):
        self.log.flush()
        with open(self.log.name, errors='replace') as f:
            return f.read()[-2000:]

    def call(self, method, **params):
        """One DevTools command; returns its result or raises with the browser's error."""
        self.next_id += 1
        mid = self.next_id
        self.ws.send(json.dumps({'id': mid, 'method': method, 'params': params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get('id') != mid:
                continue  # an event
            if 'error' in msg:
                raise RuntimeError(f'{method}: {msg["error"]}')
            return msg.get('result', {})

    def goto(self, url):
        """Loads url and returns once its document (and its deferred scripts) ran."""
        # A mark on the old document tells it from the new one, whatever URL it ends at.
        self.js('window.mpOld = true')
        self.call('Page.navigate', url=url)
        self.wait('!window.mpOld && document.readyState === "complete"', what=f'{url} loaded')

    def js(self, expr):
        """The value of a JavaScript expression in the page (JSON-able), or raises."""
        r = self.call('Runtime.evaluate', expression=expr, returnByValue=True,
                      awaitPromise=True)
        if 'exceptionDetails' in r:
            d = r['exceptionDetails']
            raise RuntimeError(f'page: {d.get("exception", {}).get("description") or d}')
        return r['result'].get('value')

    def wait(self, expr, timeout=30, what=None):
        """Polls expr in the page until it is truthy; returns its value."""
        return mp.poll(lambda: self.js(expr), timeout=timeout, every=0.1, what=what or expr)

    def screenshot(self, path, top=None, bottom=None):
        """A PNG of the page; top/bottom: CSS selectors whose boxes bound it (a small image
        of what matters rather than the whole window)."""
        params = {'format': 'png'}
        if top or bottom:
            box = self.js(f"""(() => {{
                const t = {json.dumps(top)} ? document.querySelector({json.dumps(top)}) : null;
                const b = {json.dumps(bottom)} ? document.querySelector({json.dumps(bottom)}) : null;
                const y0 = t ? t.getBoundingClientRect().top + scrollY : 0;
                const y1 = b ? b.getBoundingClientRect().bottom + scrollY : innerHeight;
                return [y0, y1, document.documentElement.clientWidth]; }})()""")
            params['clip'] = {'x': 0, 'y': max(0, box[0] - 6), 'width': box[2],
                              'height': box[1] - box[0] + 12, 'scale': 1}
            params['captureBeyondViewport'] = True
        data = self.call('Page.captureScreenshot', **params)['data']
        with open(path, 'wb') as f:
            f.write(base64.b64decode(data))
        return path

    def close(self):
        try:
            self.ws.close()
        except Exception:
            pass
        mp.stop_process(self.proc)
        self.log.close()
