#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The dashboard (GET /) in headless chromium against a live agent on a real MariaDB with
known traffic: three templates at different rates — one slow (SLEEP), one failing with
error 1146 — are listed in the load order the agent's own reports give, with their exact
counts, the error code and the slow samples in the detail view; the sort and a filter switch
the view. Then the bad cases: the agent going away (the page says the websocket closed and
reconnects when it is back), an agent with http.token (the page asks once, says when the
token is wrong) and a peer that sends something that is not a report (the page says so and
reconnects). Screenshots of the overview and of the detail go to the output directory."""
import os
import re
import threading

import browser
import mp

import known
from known import FAIL_N, HTTP, PORT, SLOW_N, SLOW_SQL

OUT = os.environ.get('MP_TEST_OUT') or os.path.join(mp.ROOT, 'build', 'test-output',
                                                     'test_dashboard')


def page_rows(b):
    """The overview as the page shows it: [{key, id, count text, errors text, text}]."""
    return b.js("""[...document.querySelectorAll('#rows tr')].map(tr => ({
        key: tr.dataset.key, id: tr.dataset.id,
        count: tr.querySelector('td.count').textContent,
        errors: tr.querySelector('td.errors').textContent,
        text: tr.querySelector('td.tmpl').textContent}))""")


def order_of(rows, ids):
    pos = {r['id']: i for i, r in enumerate(rows) if r['key'].endswith('|query')}
    return sorted(ids, key=lambda i: pos.get(i, 1e9))


def shows_counts(b, exp):
    rows = {r['id']: r for r in page_rows(b) if r['key'].endswith('|query')}
    return all(e['id'] in rows and rows[e['id']]['count'] == str(e['count'])
               for e in exp.values())


def banner(b):
    return b.js("document.getElementById('banner').hidden ? '' : "
                "document.getElementById('banner').textContent")


def link(b):
    return b.js("document.getElementById('link').textContent")


def case_overview(b):
    os.makedirs(OUT, exist_ok=True)
    b.goto(f'http://127.0.0.1:{HTTP}/')
    b.wait("document.getElementById('link').textContent === 'live'", what='page live')
    exp = known.traffic_and_expect()
    by_load = known.load_order(exp)
    ok = mp.wait_until(lambda: shows_counts(b, exp), timeout=20)
    rows = page_rows(b)
    mp.check(ok, 'the page shows each template with its count',
             str([(r['text'][:30], r['count']) for r in rows]))
    mp.check(order_of(rows, by_load) == by_load and by_load[0] == exp['slow']['id'],
             'the page ranks them by load (slow first), as the reports do',
             f'page {[r["text"][:24] for r in rows]}')
    fail_row = next((r for r in rows if r['id'] == exp['fail']['id']), {})
    mp.check(fail_row.get('errors') == str(FAIL_N), 'the failing template shows its errors',
             str(fail_row))
    units = b.js("[...document.querySelectorAll('#rows td.p99')].map(td => td.textContent)")
    mp.check(units and all(u.endswith(('µs', 'ms', ' s')) for u in units),
             'latencies carry units', str(units))
    period = b.js("document.getElementById('period').textContent")
    mp.check(':' in period and not re.search(r'\d{10,}', period),
             'the period is shown in local time, not epoch ms', period)
    b.screenshot(os.path.join(OUT, 'overview.png'), bottom='#overview')

    # Sort by count: the 60 fast selects come first of ours.
    b.js("document.querySelector('th[data-sort=count]').click()")
    mp.check(b.wait(f"(() => {{ const r = [...document.querySelectorAll('#rows tr')]"
                    f".filter(tr => ['{exp['fast']['id']}', '{exp['fail']['id']}', "
                    f"'{exp['slow']['id']}'].includes(tr.dataset.id)); "
                    f"return r.length === 3 && r[0].dataset.id === '{exp['fast']['id']}'; }})()",
                    timeout=5, what='sorted by count'),
             'sorting by count puts the most frequent first')
    b.js("document.querySelector('th[data-sort=load]').click()")

    # A filter: command "execute" hides these text queries, "all" brings them back.
    b.js("(() => { const s = document.getElementById('f-cmd'); s.value = 'execute'; "
         "s.dispatchEvent(new Event('change')); })()")
    hidden = not any(r['id'] == exp['fast']['id'] for r in page_rows(b))
    b.js("(() => { const s = document.getElementById('f-cmd'); s.value = ''; "
         "s.dispatchEvent(new Event('change')); })()")
    mp.check(hidden and any(r['id'] == exp['fast']['id'] for r in page_rows(b)),
             'the command filter hides and shows rows')

    # Detail of the failing template: its error code and count.
    b.js(f"document.querySelector('#rows tr[data-key=\"{exp['fail']['id']}|query\"]').click()")
    code = b.wait("(() => { const r = document.querySelector('#codes tr[data-code=\"1146\"]');"
                  " return r && r.lastChild.textContent; })()", timeout=5, what='error 1146')
    mp.check(code == str(FAIL_N), 'the detail lists error 1146 with its count', str(code))
    # Detail of the slow template: its samples with their SQL, and the histogram.
    b.js(f"document.querySelector('#rows tr[data-key=\"{exp['slow']['id']}|query\"]').click()")
    samples = b.wait("(() => { const r = [...document.querySelectorAll('#slow tr.sample')];"
                     " return r.length && r.map(tr => [tr.querySelector('td.lat').textContent,"
                     " tr.lastChild.textContent]); })()", timeout=5, what='slow samples')
    mp.check(len(samples) == SLOW_N and all(s[1] == SLOW_SQL and s[0].endswith('ms')
                                            for s in samples),
             'the detail lists the slow samples with their SQL and latency', str(samples))
    bars = b.js("document.querySelectorAll('#detail svg.hist rect').length")
    mp.check(bars > 0, 'the detail draws the latency histogram', str(bars))
    b.screenshot(os.path.join(OUT, 'detail.png'), top='#detail', bottom='#detail')
    mp.diag(f'screenshots in {OUT}')
    return exp


def case_closed_and_token(ns, b, agent, exp):
    """The agent goes away: the page says so; it comes back with http.token: the page asks."""
    b.goto(f'http://127.0.0.1:{HTTP}/')
    b.wait("document.getElementById('link').textContent === 'live' && "
           "document.querySelectorAll('#rows tr').length >= 3", what='page live')
    agent.stop()
    msg = b.wait("(() => { const t = document.getElementById('banner').textContent;"
                 " return !document.getElementById('banner').hidden && t; })()",
                 timeout=15, what='a message that the link is down')
    mp.check('reconnecting' in msg and link(b) == 'down',
             'a closed websocket: the page says so and that it reconnects', msg)
    tok = mp.tempdir('mp-web-token-')
    with open(os.path.join(tok, 'token'), 'w') as f:
        f.write('s3cret-dashboard\n')
    # -vv: libwebsockets' own lines too; none may carry the token the page sends.
    a2 = known.agent(ns, ['--http.token_file', os.path.join(tok, 'token'), '-v', '-v'])
    b.wait("!document.getElementById('login').hidden", timeout=30, what='the token form')
    mp.ok('an agent with http.token: the page asks for it')
    b.js("document.getElementById('token').value = 'wrong'; "
         "document.getElementById('login').requestSubmit()")
    msg = b.wait("(() => { const t = document.getElementById('banner').textContent;"
                 " return t.includes('Wrong token') && t; })()", timeout=15, what='wrong token')
    mp.check(not b.js("document.getElementById('login').hidden"),
             'a wrong token: the page says so and asks again', msg)
    b.js("document.getElementById('token').value = 's3cret-dashboard'; "
         "document.getElementById('login').requestSubmit()")
    b.wait("document.getElementById('link').textContent === 'live'", timeout=15,
           what='live with the right token')
    kept = b.js("sessionStorage.getItem('mysqlprobe.token')")
    mp.check(kept == 's3cret-dashboard' and banner(b) == '',
             'the right token: live again, kept for the session, no message', banner(b))
    mp.check(a2.err and not any('s3cret-dashboard' in l for l in a2.err),
             'the token the page sends is in no log line (-vv)', f'{len(a2.err)} lines')
    # The history of the first agent stays in the page (it keeps the last periods).
    mp.check(shows_counts(b, exp), 'the earlier counts are still shown after the reconnect')
    case_running(b, exp)  # while this agent runs (the case's end stops it)


def case_running(b, exp):
    """A statement of the slow template that runs for several periods: the detail lists it as
    running, with its SQL, before it completes. Run last: it changes the template's count."""
    b.js(f"document.querySelector('#rows tr[data-key=\"{exp['slow']['id']}|query\"]').click()")
    t = threading.Thread(target=known.run_sql, args=('SELECT SLEEP(4)',), daemon=True)
    t.start()
    run = b.wait("(() => { const r = [...document.querySelectorAll('#running tr.sample')];"
                 " return r.length && r[0].lastChild.textContent; })()", timeout=10,
                 what='a running statement in the detail')
    mp.check(run == 'SELECT SLEEP(4)', 'the detail lists the statement still running, with its SQL',
             str(run))
    t.join(10)


def case_master(ns, b, exp):
    """A master pulling this slave serves the page too: the node list, with the leader."""
    st = mp.tempdir('mp-web-master-')
    known_master = mp.Agent(['--slave=false', '-o', 'report', '--report_period_ms', '1000',
                             '--serverport', str(HTTP + 1), '--cluster.slaves',
                             f'127.0.0.1:{HTTP}', '--cluster.state_file',
                             os.path.join(st, 'state')], netns=ns)
    known_master.wait_ready()
    b.goto(f'http://127.0.0.1:{HTTP + 1}/')
    nodes = b.wait("(() => { const n = document.getElementById('nodes');"
                   " return !n.hidden && n.textContent.includes('connected') && n.textContent; })()",
                   timeout=30, what='the node list')
    mp.check(f'127.0.0.1:{HTTP}' in nodes and 'leader:' in nodes,
             'on a master the page lists the nodes, their state and the leader', nodes)
    if exp:
        # The master resumes the slave from its oldest kept report: the same statements.
        mp.check(mp.wait_until(lambda: shows_counts(b, exp), timeout=20),
                 "the master's page shows the slave's counts",
                 str([(r['text'][:30], r['count']) for r in page_rows(b)]))
    b.screenshot(os.path.join(OUT, 'master.png'), top='#nodes', bottom='#nodes')


def case_bad_report(ns, b):
    agent = mp.Agent(['-p', str(PORT), '-o', 'report'], netns=ns)  # serves the page
    agent.wait_ready()
    peer = known.BadPeer('{"version": 2, "seq": "not a number"')
    b.goto(f'http://127.0.0.1:{HTTP}/?collector=ws://127.0.0.1:{peer.port}/collector')
    msg = b.wait("(() => { const t = document.getElementById('banner').textContent;"
                 " return t.includes('could not be read') && t; })()", timeout=20,
                 what='the bad report message')
    mp.check('not JSON' in msg, 'a report the page cannot parse: the page says so', msg)
    mp.check(mp.wait_until(lambda: peer.conns >= 2, timeout=20),
             'after a bad report the page reconnects', f'{peer.conns} connection(s)')
    peer2 = known.BadPeer('{"version": 3, "seq": 1, "stats": []}')
    b.goto(f'http://127.0.0.1:{HTTP}/?collector=ws://127.0.0.1:{peer2.port}/collector')
    msg = b.wait("(() => { const t = document.getElementById('banner').textContent;"
                 " return t.includes('could not be read') && t; })()", timeout=20,
                 what='the unknown version message')
    mp.check('version 3' in msg, 'a report of an unknown version: the page says so', msg)


def main():
    mp.need_root('dashboard in chromium (namespace, BPF)')
    why = browser.chromium_missing()
    if why:
        mp.skip('dashboard in chromium', why)
        mp.done()
    with mp.Netns('web') as ns:
        mp.enter_netns(ns)
        db, agent = known.start(ns)
        st, body = mp.http_get(f'http://127.0.0.1:{HTTP}/')
        mp.check(st == 200 and '<script src="app.js"' in body, 'GET / serves the page',
                 f'{st} {body[:80]}')
        st, body = mp.http_get(f'http://127.0.0.1:{HTTP}/app.js')
        mp.check(st == 200 and 'collector' in body, 'GET /app.js serves the script', str(st))
        b = browser.Chromium(ns)
        exp = None
        with mp.case('overview and detail'):
            exp = case_overview(b)
        with mp.case('master'):
            case_master(ns, b, exp)
        if exp:
            with mp.case('closed websocket and token'):
                case_closed_and_token(ns, b, agent, exp)
        with mp.case('bad report'):
            case_bad_report(ns, b)
        b.close()
        db.stop()
    mp.done()


if __name__ == '__main__':
    main()
