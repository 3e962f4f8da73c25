#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Offline throughput: sysbench captures (tcpdump on lo) replayed through the agent, tshark's MySQL
dissector and pt-query-digest, plus a perf profile of the agent. Prints a Markdown section.

The captures live in a temp dir and are deleted at the end (--keep DIR keeps them).
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import mpbench as mb
from mpbench import mp

PORT = 3320
GOAL_PER_CORE = 1e6
GOAL_TSHARK = 100


def parse_args():
    a = argparse.ArgumentParser(description=__doc__)
    a.add_argument('--ps-events', type=int, default=400000,
                   help='oltp_point_select statements per point-select capture')
    a.add_argument('--rw-events', type=int, default=12000,
                   help='oltp_read_write transactions (20 statements each)')
    a.add_argument('--threads', type=int, default=8, help='sysbench threads while capturing')
    a.add_argument('--runs', type=int, default=3, help='agent replays per setting (median)')
    a.add_argument('--pt-packets', type=int, default=60000,
                   help='packets of each capture fed to pt-query-digest (0 = whole capture)')
    a.add_argument('--tshark-packets', type=int, default=0,
                   help='packets of each capture fed to tshark (0 = whole capture)')
    a.add_argument('--no-profile', action='store_true', help='skip the perf profile')
    a.add_argument('--keep', help='keep the captures in this directory')
    return a.parse_args()


CAPTURES = (  # name, sysbench workload, --db-ps-mode
    ('point_select_text', 'oltp_point_select', 'disable'),
    ('point_select_ps', 'oltp_point_select', 'auto'),
    ('read_write_ps', 'oltp_read_write', 'auto'),
)


def capture(ns, sb, path, events, threads):
    """tcpdump on lo while sysbench runs a fixed number of events; returns (cmds, info).

    tcpdump runs without --immediate-mode (one wake-up per packet makes it drop packets on a
    busy machine) and with a 256 MiB buffer; the packets still in the kernel ring at the end are
    waited for by watching the file stop growing (the ring's block timeout is 1 s), because
    SIGINT discards them. A capture with kernel drops is taken again, once.
    """
    td = ['tcpdump', '-i', 'lo', '-s', '0', '-B', '262144', '-w', path, 'tcp', 'port', str(PORT)]
    run = [f'--threads={threads}', f'--events={events}', '--time=0']
    for attempt in range(2):
        p = mb.Proc(ns.cmd(td))
        p.wait_for('listening')
        res = sb.run(run)
        stable_since, size = mp.time.monotonic(), -1
        while mp.time.monotonic() - stable_since < 2.0:
            mp.time.sleep(0.2)
            now = os.path.getsize(path)
            if now != size:
                stable_since, size = mp.time.monotonic(), now
        p.stop(mb.signal.SIGINT)
        err = p.err()
        m = re.search(r'(\d+) packets captured', err)
        d = re.search(r'(\d+) packets dropped by kernel', err)
        info = {'packets': int(m.group(1)) if m else 0, 'dropped': int(d.group(1)) if d else -1,
                'queries': res.queries, 'bytes': os.path.getsize(path), 'attempts': attempt + 1}
        if info['dropped'] == 0:
            break
        mb.log(f'offline: tcpdump dropped {info["dropped"]} packets; capturing again')
    return (mb.shell(td), mb.shell(sb.run_argv(run))), info


def replay(path, kind, workers):
    argv = [mb.BIN, '-r', path, '-p', str(PORT), '-o', kind, '--workers', str(workers)]
    p = mb.run_timed(argv)
    if p.status != 0:
        raise RuntimeError(f'{argv}: exit {p.status}: {p.err()[-1000:]}')
    return p, mp.agent_counters(p.err(), 'decode')


def distinct_texts(path):
    """Distinct statement texts (command, sql) in a capture, from one `-o events` replay: how
    often texts repeat decides how often the template cache answers instead of the lexer."""
    argv = [mb.BIN, '-r', path, '-p', str(PORT), '-o', 'events']
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    seen = set()
    for line in p.stdout:
        e = json.loads(line)
        seen.add((e.get('command'), e.get('sql')))
    if p.wait() != 0:
        raise RuntimeError(f'{argv}: exit {p.returncode}')
    return len(seen)


def agent_rows(caps, kind, runs):
    """{(name, workers): dict(median wall, cpu, rss, events, cmd, counters)}"""
    out = {}
    for name, path in caps:
        for w in (1, 2):
            rs = [replay(path, kind, w) for _ in range(runs)]
            ev = rs[0][1].get('events', 0)
            out[(name, w)] = {
                'events': ev, 'dec': rs[0][1],
                'wall': mb.median([p.wall for p, _ in rs]),
                'cpu': mb.median([p.cpu for p, _ in rs]),
                'user': mb.median([p.user for p, _ in rs]),
                'sys': mb.median([p.sys for p, _ in rs]),
                'rss_kb': max(p.maxrss_kb for p, _ in rs),
                'cmd': mb.shell(rs[0][0].argv)}
            mb.log(f'offline: {name} workers={w}: {ev} events in {out[(name, w)]["wall"]:.2f}s')
        out[(name, 'distinct')] = distinct_texts(path)
    return out


def gap_loss(caps, info, kind, tmp):
    """Each capture with four single packets removed (editcap), at 1/5 .. 4/5 of the file: what
    the agent still decodes. Live drops cost this much, so it is measured here where it is exact.
    """
    out = []
    for name, path in caps:
        n = info[name]['packets']
        cuts = [str(n * i // 5 + 1) for i in range(1, 5)]
        cut = os.path.join(tmp, f'{name}.cut.pcap')
        r = subprocess.run(['editcap', path, cut] + cuts,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if r.returncode != 0:
            return None
        _, dec = replay(cut, kind, 1)
        out.append((name, cuts, dec))
        os.unlink(cut)
    return out


def subset(path, packets, tmp, tag):
    """The first `packets` packets of a capture (the whole file when packets == 0)."""
    if not packets:
        return path
    sub = os.path.join(tmp, f'{tag}.sub.pcap')
    subprocess.run(['tcpdump', '-r', path, '-c', str(packets), '-w', sub], check=True,
                   stderr=subprocess.DEVNULL)
    return sub


def tshark(path):
    """tshark's MySQL dissector over the capture: (Proc, requests it decoded, argv)."""
    argv = ['tshark', '-r', path, '-d', f'tcp.port=={PORT},mysql', '-Y', 'mysql.command',
            '-T', 'fields', '-e', 'mysql.command']
    out = tempfile.TemporaryFile('w+')
    p = mb.run_timed(argv, stdout=out)
    out.seek(0)
    # One line per frame; a frame holding several requests lists their commands comma-separated.
    n = sum(len(l.strip().split(',')) for l in out if l.strip())
    return p, n, argv


def pt_digest(path):
    """tcpdump -x text into pt-query-digest --type tcpdump: (Proc, queries it counted, cmd)."""
    cmd = (f'tcpdump -r {path} -x -n -q -tttt 2>/dev/null | pt-query-digest --type tcpdump '
           f'--watch-server 127.0.0.1:{PORT} --output json --limit 5')
    out = tempfile.TemporaryFile('w+')
    p = mb.run_timed(['sh', '-c', cmd], stdout=out)
    out.seek(0)
    txt = out.read()
    n = 0
    try:
        n = json.loads(txt[txt.index('{'):])['global']['query_count']
    except (ValueError, KeyError):
        m = re.search(r'"query_count"\s*:\s*(\d+)', txt)
        n = int(m.group(1)) if m else 0
    return p, n, cmd


def profile(path, kind, tmp):
    """perf record of one single-worker replay (callgrind on a prefix when perf cannot sample):
    ([(symbol, object, self share %)], command, what was sampled)."""
    rows, cmd, what = perf_profile(path, kind, tmp)
    if rows:
        return rows, cmd, what
    mb.log(f'offline: perf failed ({what}); using callgrind')
    sub = subset(path, 40000, tmp, 'callgrind')
    crows, ccmd, cwhat = callgrind_profile(sub, kind, tmp)
    return crows, ccmd, f'perf could not sample ({what}); callgrind instead: {cwhat}'


def callgrind_profile(path, kind, tmp):
    out = os.path.join(tmp, 'callgrind.out')
    rec = ['valgrind', '--tool=callgrind', f'--callgrind-out-file={out}', mb.BIN, '-r', path,
           '-p', str(PORT), '-o', kind, '--workers', '1']
    r = subprocess.run(rec, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        return None, mb.shell(rec), r.stderr[-300:]
    ann = subprocess.run(['callgrind_annotate', out], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True).stdout
    rows = []
    for line in ann.splitlines():
        m = re.match(r'\s*[\d,]+ \(\s*([\d.]+)%\)\s+([^:\s]+):(\S+)(?: \[(\S+)\])?', line)
        if m:
            rows.append((m.group(3), os.path.basename(m.group(4) or m.group(2)),
                         float(m.group(1))))
    return rows, mb.shell(rec), 'instructions (Ir), self cost'


def perf_profile(path, kind, tmp):
    data = os.path.join(tmp, 'perf.data')
    rec = ['perf', 'record', '-F', '4999', '-o', data, '--', mb.BIN, '-r', path, '-p', str(PORT),
           '-o', kind, '--workers', '1']
    r = subprocess.run(rec, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        return None, mb.shell(rec), r.stderr.strip()[-300:]
    rep = ['perf', 'report', '-i', data, '--stdio', '--no-children', '--sort', 'dso,symbol',
           '--percent-limit', '0.5']
    out = subprocess.run(rep, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
    rows = []
    for line in out.splitlines():
        m = re.match(r'\s*([\d.]+)%\s+(\S+)\s+\[[.k]\]\s+(\S+)', line)
        if m:
            rows.append((m.group(3), m.group(2), float(m.group(1))))
    ev = re.search(r"Samples:\s+(\S+)\s+of event '([^']+)'", out)
    return rows, mb.shell(rec), (f'{ev.group(1)} samples of {ev.group(2)}' if ev else '')


# What the top symbols cost and what would remove them; keyed by symbol prefix, written from
# reading the profile (a symbol not listed here is still shown, with no remedy claimed).
WAKEUP = ('context switches: with 2 or more workers the reading thread wakes a sleeping worker '
          '(once per 32 KiB queued or per read batch); with one worker there is no worker thread. '
          'Fewer, larger batches (a longer read before the kick) would reduce them further.')
READ = ('reading the capture through libpcap\'s offline reader (fread: a kernel-to-user copy of '
        'every byte, two library calls per packet); mapping the file and parsing records in place '
        'would remove the copy. Replay only: live capture reads the ring buffer in place.')
LEX = ('templating statement texts not seen recently (lexing, keyword lookup); repeats (every '
       'execute of a prepared statement, hot rows of a text workload) are answered by the '
       'per-worker template cache. What remains are texts with fresh literals: a lexer that skips '
       'a number or a quoted string with one scan instead of per-character dispatch would cut it.')
HASH = ('hashing: the statement text once for the template cache and the connection key for the '
        'flow lookup; remembering the last flow (a response\'s segments come back to back) would '
        'skip most flow hashes; the text hash is what a cache hit costs instead of the lexer.')
DECODE = ('MySQL framing and response decoding: every packet header of a response is read to find '
          'where the result set ends, and rows are walked packet by packet; a large result set '
          'costs in proportion to its rows. Skipping whole row packets by length without '
          'dispatching on each would reduce it.')
AGG = ('the per-period aggregate: one hash-table lookup per statement keyed by template, database, '
       'user and client address (key compare included); a per-connection pointer to the last row '
       'it updated would skip the lookup when a connection repeats a template.')
STARTUP = ('process start-up: the dynamic linker resolving symbols of a dozen shared libraries; '
           'visible only because a replay lasts a fraction of a second (static linking would '
           'remove it; it does not grow with the capture).')
REMEDIES = {  # symbol substring -> what costs and what would remove it (from reading profiles)
    'finish_task_switch': WAKEUP, '_raw_spin_unlock_irqrestore': WAKEUP, 'futex': WAKEUP,
    'pthread_cond': WAKEUP, 'try_to_wake_up': WAKEUP, 'schedule': WAKEUP,
    'worker_main': 'a worker spinning on an empty queue (q_wait_data is inlined into it) '
                   'while the single reading thread feeds it: the reader is the bottleneck.',
    'q_push': 'copying every segment (header and payload) into a worker\'s queue (2 or more '
              'workers); handing over pointers into the read buffer would remove the copy.',
    '_copy_to_iter': READ, 'fread': READ, 'filemap': READ, 'copy_user': READ, 'iowrite': READ,
    'xsgetn': READ, 'pcap_': READ, 'dispatch_cb': READ,
    'sql_lex': LEX, 'lex_word': LEX, 'sql_kw': LEX, 'template_make': LEX, 'tpl_': LEX,
    'XXH': HASH, 'template_cache': HASH,
    'event_json': 'formatting every event as JSON; the report path aggregates instead.',
    'flow_': 'flow lookup and reassembly per segment; batching the segments of one flow '
             '(they arrive back to back) would amortise the lookup.',
    'frame_parse': 'parsing the link, IP and TCP headers of every frame in userspace (replay and '
                    'pcap mode only: in tc/xdp mode the BPF program has done it).',
    'raw_feed': DECODE, 'on_packet': DECODE, 'start_packet': DECODE, 'header_ok': DECODE,
    'deliver': DECODE, 'dispatch': DECODE, 'mysql_': DECODE, 'stmt_done': DECODE,
    'stat_lookup': AGG, 'agg_': AGG, 'hist_': AGG, 'slave_on_event': AGG,
    'memcmp': 'key comparisons after a hash match (template cache text, keyword table, aggregate '
              'key); they confirm hits and shrink only with fewer lookups (see the rows above).',
    'memcpy': 'copying payloads between source, flow buffer and decoder; handing in-order '
              'payloads straight to the decoder would remove the copies.',
    'memmove': 'copying payloads between source, flow buffer and decoder; handing in-order '
               'payloads straight to the decoder would remove the copies.',
    'malloc': 'allocation per event or segment; per-worker free lists would remove it.',
    'do_lookup_x': STARTUP, '_dl_': STARTUP,
    'page_fault': 'first touch of freshly mapped memory (flow and decoder buffers); reused '
                  'buffers or pre-faulting would reduce it.',
    'handle_mm_fault': 'first touch of freshly mapped memory (flow and decoder buffers); reused '
                       'buffers or pre-faulting would reduce it.',
    '_int_': 'allocation per event or segment (glibc malloc internals); per-worker free lists '
             'would remove it.',
}


def remedy(sym):
    for k, v in REMEDIES.items():
        if k in sym:
            return v
    return 'not analysed yet.'


def main():
    args = parse_args()
    kind = mb.OUTPUT
    tmp = args.keep or tempfile.mkdtemp(prefix='mp-bench-offline-')
    os.makedirs(tmp, exist_ok=True)
    caps, info, cmds = [], {}, {}
    try:
        with mp.Netns('boff') as ns:
            db = mp.MariaDB(port=PORT, netns=ns)
            try:
                prep = mb.Sysbench(ns, PORT, 'oltp_point_select')
                prep.prepare()
                for name, wl, ps in CAPTURES:
                    sb = mb.Sysbench(ns, PORT, wl, ps)
                    ev = args.rw_events if wl == 'oltp_read_write' else args.ps_events
                    path = os.path.join(tmp, f'{name}.pcap')
                    cmds[name], info[name] = capture(ns, sb, path, ev, args.threads)
                    caps.append((name, path))
                    mb.log(f'offline: captured {name}: {info[name]}')
            finally:
                db.stop()
        rows = agent_rows(caps, kind, args.runs)
        tsh, pt = {}, {}
        for name, path in caps:
            sub = subset(path, args.tshark_packets, tmp, name + '.tshark')
            p, n, argv = tshark(sub)
            _, dec = replay(sub, kind, 1)
            tsh[name] = (p, n, mb.shell(argv), dec.get('events', 0))
            mb.log(f'offline: tshark {name}: {n} requests in {p.wall:.1f}s')
            sub = subset(path, args.pt_packets, tmp, name + '.pt')
            p, n, cmd = pt_digest(sub)
            _, dec = replay(sub, kind, 1)
            pt[name] = (p, n, cmd.replace(tmp + '/', ''), dec.get('events', 0))
            mb.log(f'offline: pt-query-digest {name}: {n} queries in {p.wall:.1f}s')
        loss = gap_loss(caps, info, kind, tmp)
        prof = None if args.no_profile else profile(caps[0][1], kind, tmp)
        print_section(args, kind, caps, info, cmds, rows, tsh, pt, loss, prof, tmp)
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


def print_section(args, kind, caps, info, cmds, rows, tsh, pt, loss, prof, tmp):
    out = ['## Offline replay: mysqlprobe vs tshark vs pt-query-digest (bench/bench_offline.py)\n']
    total = sum(rows[(n, 1)]['events'] for n, _ in caps)
    out.append(f'Captures taken by the bench (tcpdump on lo of a MariaDB in a namespace, sysbench '
               f'{args.threads} threads, 1 table of {mb.TABLE_SIZE:,} rows); '
               f'**{total:,} statements in total** (agent events: every client command, '
               'COM_STMT_PREPARE / CLOSE and COM_QUIT included):\n')
    out += ['| capture | sysbench run | queries (sysbench) | statements (agent) | distinct texts | '
            'packets | tcpdump drops | MB |', '|---|---|---:|---:|---:|---:|---:|---:|']
    for name, _ in caps:
        i = info[name]
        out.append(f'| {name} | `{cmds[name][1]}` | {i["queries"]:,} | '
                   f'{rows[(name, 1)]["events"]:,} | {rows[(name, "distinct")]:,} | '
                   f'{i["packets"]:,} | {i["dropped"]} | {i["bytes"] / 1e6:.0f} |')
    out.append('\n"distinct texts" counts different (command, SQL text) pairs in the agent\'s '
               '`-o events` output. sysbench\'s default `--rand-type=special` draws ids from a hot '
               'spot, so even text-protocol statements repeat; repeats are answered by the '
               'per-worker template cache (docs/ARCHITECTURE.md), which therefore helps these '
               'captures more than a workload of all-different literals.')
    out.append(f'\nCapture command: `{cmds[caps[0][0]][0].replace(caps[0][1], "FILE")}` (in the '
               'namespace, FILE in a temp dir deleted afterwards; the bench waits for the file to '
               'stop growing before SIGINT, since tcpdump discards what is still in the kernel '
               'buffer, and takes a capture again when tcpdump reports kernel drops).\n')
    out.append(f'### mysqlprobe replay (`-o {kind}`)\n')
    out.append(f'Command: `build/mysqlprobe -r FILE -p {PORT} -o {kind} --workers N`; '
               f'median of {args.runs} runs; statements = `events=` of the agent\'s '
               '`mysqlprobe: decode:` line; wall = the whole process; CPU = user+sys from '
               'wait4; per core = statements per CPU second.\n')
    out += ['| capture | workers | statements | wall s | statements/s (wall) | user s | sys s | '
            'statements per CPU s | peak RSS MB | gaps |',
            '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|']
    tot = {1: [0, 0.0, 0.0], 2: [0, 0.0, 0.0]}
    for name, _ in caps:
        for w in (1, 2):
            r = rows[(name, w)]
            out.append(f'| {name} | {w} | {r["events"]:,} | {r["wall"]:.2f} | '
                       f'{r["events"] / r["wall"]:,.0f} | {r["user"]:.2f} | {r["sys"]:.2f} | '
                       f'{r["events"] / max(r["cpu"], 1e-6):,.0f} | {r["rss_kb"] / 1024:.1f} | '
                       f'{r["dec"].get("gaps", "?")} |')
            tot[w][0] += r['events']
            tot[w][1] += r['wall']
            tot[w][2] += r['cpu']
    for w in (1, 2):
        out.append(f'| **all three** | {w} | {tot[w][0]:,} | {tot[w][1]:.2f} | '
                   f'**{tot[w][0] / tot[w][1]:,.0f}** | | | **{tot[w][0] / tot[w][2]:,.0f}** | | |')
    out.append('')

    out.append('### Same captures through tshark and pt-query-digest\n')
    tsh_cmd = tsh[caps[0][0]][2].replace(tmp + '/', '')
    tsh_cmd = re.sub(r'-r \S+', '-r FILE', tsh_cmd)
    out.append(f'tshark: `{tsh_cmd}` (FILE = ' +
               ('the whole capture' if not args.tshark_packets else
                f'its first {args.tshark_packets:,} packets') + ', run once: it is slow). '
               'pt-query-digest: `' + re.sub(r'-r \S+', '-r FILE', pt[caps[0][0]][2])
               + '` (FILE = ' + ('the whole capture' if not args.pt_packets else
                                 f'the first {args.pt_packets:,} packets of each capture, cut with '
                                 '`tcpdump -r CAPTURE -c N -w FILE`') +
               ', run once; its wall time covers the tcpdump text conversion and the parser). '
               'Statements in FILE are counted by the agent; rates are statements of FILE per '
               'second of the tool\'s wall time (and per CPU second). The agent column is the '
               'single-worker median from the table above.\n')
    out += ['| capture | tool | input | statements in input | tool counted | wall s | '
            'statements/s (wall) | per CPU s | mysqlprobe is × faster (wall) |',
            '|---|---|---|---:|---:|---:|---:|---:|---:|']
    ratios = []
    for name, _ in caps:
        a = rows[(name, 1)]
        arate = a['events'] / a['wall']
        for tool, d, pk in (('tshark', tsh, args.tshark_packets), ('pt-query-digest', pt,
                                                                    args.pt_packets)):
            p, n, _, stm = d[name]
            rate = stm / max(p.wall, 1e-6)
            inp = 'whole capture' if not pk else f'first {pk:,} packets'
            out.append(f'| {name} | {tool} | {inp} | {stm:,} | {n:,} | {p.wall:.1f} | '
                       f'{rate:,.0f} | {stm / max(p.cpu, 1e-6):,.0f} | '
                       f'**{arate / max(rate, 1e-6):,.0f}×** |')
            ratios.append((tool, arate / max(rate, 1e-6)))
    out.append('\n"tool counted" is what the tool itself reports (tshark: request PDUs its '
               'dissector found, `mysql.command` occurrences; pt-query-digest: `query_count` of '
               'its JSON output); where it is below the statements in the input, the tool '
               'missed or merged statements (e.g. pt-query-digest does not parse every '
               'binary-protocol execute).')
    if pt and args.pt_packets:
        out.append('pt-query-digest runs on a prefix only because a whole capture would take '
                   'minutes; its rate on the prefix is reported as is, and the prefix includes '
                   'connection setup, which only makes the agent\'s relative figure worse for it.')
    out.append('')

    if loss:
        out.append('### Statements lost per lost packet\n')
        out.append('Each capture with four single packets removed at 1/5, 2/5, 3/5 and 4/5 of the '
                   'file (`editcap CAPTURE CUT N1 N2 N3 N4`), replayed with 1 worker. A live drop '
                   'costs the same, so this is what one ring-buffer or libpcap drop means:\n')
        out += ['| capture | packets cut | statements (whole) | statements (4 packets cut) | '
                'lost | gaps | resyncs | decode errors |',
                '|---|---|---:|---:|---:|---:|---:|---:|']
        for name, cuts, dec in loss:
            whole = rows[(name, 1)]['events']
            ev = dec.get('events', 0)
            out.append(f'| {name} | {" ".join(cuts)} | {whole:,} | {ev:,} | {whole - ev:,} | '
                       f'{dec.get("gaps")} | {dec.get("resyncs")} | {dec.get("decode_errors")} |')
        out.append('')
    if prof is not None:
        rows_p, cmd, what = prof
        out.append('### Profile of the agent\n')
        if rows_p is None:
            out.append(f'`{cmd}` failed: `{what}`. No profile this run.\n')
        else:
            rep = ('`callgrind_annotate`' if cmd.startswith('valgrind') else
                   '`perf report --stdio --no-children --sort dso,symbol`')
            out.append(f'`{cmd.replace(tmp + "/", "")}` then {rep} ({what}; the '
                       f'{caps[0][0]} capture). Top self costs:\n')
            out += ['| # | symbol | object | share | what would remove it |',
                    '|---:|---|---|---:|---|']
            seen = {}
            for i, (sym, dso, pct) in enumerate(rows_p[:3], 1):
                why = remedy(sym)
                text = f'same cause as #{seen[why]}.' if why in seen else why
                seen.setdefault(why, i)
                out.append(f'| {i} | `{sym}` | {dso} | {pct:.1f}% | {text} |')
            rest = ', '.join(f'`{s}` {p:.1f}%' for s, _, p in rows_p[3:10])
            out.append(f'\nNext: {rest}.\n')
    print('\n'.join(out))
    # For bench/run.py's goals table.
    w1 = tot[1][0] / max(tot[1][2], 1e-6)
    tsh_ratio = min((r for t, r in ratios if t == 'tshark'), default=0)
    goals = {'offline_per_core': w1, 'offline_wall_1w': tot[1][0] / tot[1][1],
             'tshark_ratio_min': tsh_ratio,
             'tshark_ratio_all': [round(r, 1) for t, r in ratios if t == 'tshark']}
    mb.save_results('offline', goals)


if __name__ == '__main__':
    sys.exit(main())
