// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
// mysqlprobe dashboard: reads the agent's /collector?format=json (docs/REPORT.md), keeps the
// last KEEP reports and shows templates ranked by load, one template's detail, capture health
// and, on a master, the node list. Plain DOM and SVG: nothing to fetch from anywhere else.
'use strict';

const KEEP = 60; // reports kept in the page (a period each)
const RETRY_MIN_MS = 500, RETRY_MAX_MS = 10000; // reconnect backoff, as the agent's own links
const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);

const st = {
	token: sessionStorage.getItem('mysqlprobe.token') || '',
	reports: [], // version 2 reports, oldest first, at most KEEP
	seen: new Set(), // node + period_start_ms: a replay after a reconnect adds nothing twice
	templates: new Map(), // template id -> text (each text arrives once per connection)
	lastSeq: null,
	lost: 0, // reports this page will never get (the agent said "lost")
	sort: 'load',
	selected: null, // "template_id|command"
	ws: null,
	retryMs: RETRY_MIN_MS,
	retryTimer: null,
	status: null, // /status of the agent serving the page
	nodes: null, // /cluster/listnodes on a master
	dirty: false,
};

// ---------------------------------------------------------------- formatting
function fmtUs(us) {
	if (us == null || !isFinite(us)) return '–';
	if (us < 1000) return `${Math.round(us)} µs`;
	if (us < 1e6) return `${(us / 1000).toFixed(us < 1e4 ? 2 : 1)} ms`;
	return `${(us / 1e6).toFixed(us < 1e7 ? 2 : 1)} s`;
}
function fmtNum(n) {
	if (n == null || !isFinite(n)) return '–';
	const a = Math.abs(n);
	if (a >= 1e9) return `${(n / 1e9).toFixed(1)}G`;
	if (a >= 1e6) return `${(n / 1e6).toFixed(a >= 1e7 ? 1 : 2)}M`;
	if (a >= 1e4) return `${(n / 1e3).toFixed(a >= 1e5 ? 0 : 1)}k`;
	if (Number.isInteger(n)) return String(n);
	return n.toFixed(a >= 100 ? 0 : a >= 10 ? 1 : 2);
}
// Load is statements in flight on average: small values keep two significant digits.
function fmtLoad(n) {
	if (!n) return '0';
	return n < 1 ? n.toPrecision(2) : fmtNum(n);
}
function fmtRate(perS) { return `${fmtNum(perS)}/s`; }
function fmtTime(ms) { return new Date(ms).toLocaleTimeString(); }
function fmtDateTime(ms) { return new Date(ms).toLocaleString(); }
function el(tag, attrs, ...kids) {
	const e = document.createElement(tag);
	for (const [k, v] of Object.entries(attrs || {})) {
		if (k === 'class') e.className = v;
		else if (k.startsWith('data-')) e.setAttribute(k, v);
		else e[k] = v;
	}
	for (const k of kids) e.append(k instanceof Node ? k : document.createTextNode(String(k)));
	return e;
}
const SVGNS = 'http://www.w3.org/2000/svg';
function svg(tag, attrs) {
	const e = document.createElementNS(SVGNS, tag);
	for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
	return e;
}

// A few MySQL/MariaDB error codes a DBA meets often; others show as the number alone.
const ERR_NAMES = {
	1044: 'access denied to database', 1045: 'access denied', 1046: 'no database selected',
	1049: 'unknown database', 1054: 'unknown column', 1062: 'duplicate entry',
	1064: 'syntax error', 1146: 'table does not exist', 1205: 'lock wait timeout',
	1213: 'deadlock', 1317: 'query interrupted', 1452: 'foreign key constraint fails',
	1969: 'statement timeout', 3024: 'max execution time exceeded',
};

// ---------------------------------------------------------------- messages
const problems = new Map(); // kind -> text; the banner shows them all
function say(kind, text) {
	if (text) problems.set(kind, text); else problems.delete(kind);
	const b = $('banner');
	b.textContent = [...problems.values()].join(' — ');
	b.hidden = problems.size === 0;
}
function setLink(up, text) {
	const l = $('link');
	l.textContent = text;
	l.className = `badge ${up ? 'up' : 'down'}`;
}

// ---------------------------------------------------------------- HTTP
function httpBase() {
	return location.origin;
}
async function getJSON(path) {
	const headers = st.token ? { Authorization: `Bearer ${st.token}` } : {};
	const r = await fetch(httpBase() + path, { headers, cache: 'no-store' });
	let body = null;
	try { body = await r.json(); } catch (e) { body = null; }
	return { code: r.status, body };
}

function askToken(why) {
	$('login-why').textContent = why;
	$('login').hidden = false;
	$('token').focus();
}

// ---------------------------------------------------------------- the link
// The page talks to the agent that served it, unless ?collector=ws://host:port/collector
// names another node.
function collectorURL() {
	const u = new URL(params.get('collector') ||
		`${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/collector`);
	u.searchParams.set('format', 'json');
	// since= replays what the agent still holds: the page starts with history, and a
	// reconnect continues where the last report left off, without gap or duplicate.
	u.searchParams.set('since', String(st.lastSeq ?? 0));
	if (st.token) u.searchParams.set('token', st.token); // a browser WebSocket has no headers
	return u.toString();
}

async function start() {
	clearTimeout(st.retryTimer);
	if (!params.get('collector')) {
		let s;
		try {
			s = await getJSON('/status');
		} catch (e) {
			return retry(`The agent at ${location.host} cannot be reached (${e.message})`);
		}
		if (s.code === 401) {
			say('link', st.token ? 'Wrong token: the agent answered 401' : null);
			setLink(false, 'token needed');
			return askToken(st.token ? 'The agent refused this token. Enter http.token:'
				: 'This agent needs its http.token:');
		}
		if (s.code !== 200 || !s.body)
			return retry(`The agent answered /status with HTTP ${s.code}`);
		st.status = s.body;
		$('login').hidden = true;
		say('link', null);
	}
	connect();
}

function retry(why) {
	setLink(false, 'down');
	const secs = (st.retryMs / 1000).toFixed(1);
	say('link', `${why}; reconnecting in ${secs} s`);
	clearTimeout(st.retryTimer);
	st.retryTimer = setTimeout(start, st.retryMs);
	st.retryMs = Math.min(st.retryMs * 2, RETRY_MAX_MS);
}

function connect() {
	let ws, opened = false, bad = null;
	try {
		ws = new WebSocket(collectorURL());
	} catch (e) {
		return retry(`Cannot open the websocket: ${e.message}`);
	}
	st.ws = ws;
	setLink(false, 'connecting');
	ws.onopen = () => {
		opened = true;
		setLink(true, 'live');
		say('link', null);
	};
	ws.onmessage = (ev) => {
		let r;
		try {
			r = parseReport(ev.data);
		} catch (e) {
			bad = e.message;
			say('report', `A report could not be read: ${e.message}`);
			ws.close(); // start over: the next connection replays from the last good seq
			return;
		}
		say('report', null);
		st.retryMs = RETRY_MIN_MS; // a connection that carried a report is a good one
		ingest(r);
	};
	ws.onclose = (ev) => {
		if (st.ws !== ws) return;
		st.ws = null;
		if (bad) return retry('Closed after a bad report');
		if (!opened && !params.get('collector'))
			return diagnose(ev);
		retry(`The websocket closed (code ${ev.code}${ev.reason ? ', ' + ev.reason : ''})`);
	};
}

// A refused upgrade looks the same as a dead agent from inside a browser: ask /status why.
async function diagnose(ev) {
	let s;
	try {
		s = await getJSON('/status');
	} catch (e) {
		return retry(`The agent at ${location.host} cannot be reached`);
	}
	if (s.code === 401) {
		say('link', 'Wrong token: the agent answered 401');
		setLink(false, 'token needed');
		return askToken('The agent refused this token. Enter http.token:');
	}
	retry(`The websocket could not connect (code ${ev.code})`);
}

function parseReport(text) {
	let r;
	try {
		r = JSON.parse(text);
	} catch (e) {
		throw new Error(`not JSON (${e.message})`);
	}
	if (!r || typeof r !== 'object') throw new Error('not a JSON object');
	if (r.version !== 2) throw new Error(`unknown report version ${JSON.stringify(r.version)}`);
	for (const k of ['seq', 'period_start_ms', 'period_end_ms'])
		if (typeof r[k] !== 'number') throw new Error(`"${k}" missing or not a number`);
	if (!Array.isArray(r.stats)) throw new Error('"stats" missing or not an array');
	for (const s of r.stats)
		if (!s || typeof s.template_id !== 'string' || typeof s.count !== 'number' ||
		    !s.latency_us || typeof s.latency_us.sum !== 'number')
			throw new Error('a "stats" row lacks template_id, count or latency_us');
	if (r.slow != null && !Array.isArray(r.slow)) throw new Error('"slow" is not an array');
	return r;
}

function ingest(r) {
	for (const [id, text] of Object.entries(r.templates || {})) st.templates.set(id, text);
	st.lastSeq = r.seq;
	if (r.lost) st.lost += r.lost;
	const key = `${r.node}|${r.started_ms ?? ''}|${r.period_start_ms}|${r.late ? 1 : 0}`;
	if (st.seen.has(key)) return;
	st.seen.add(key);
	st.reports.push(r);
	while (st.reports.length > KEEP) {
		const o = st.reports.shift();
		st.seen.delete(`${o.node}|${o.started_ms ?? ''}|${o.period_start_ms}|${o.late ? 1 : 0}`);
	}
	if (st.status && st.status.role === 'master') refreshNodes();
	schedule();
}

async function refreshNodes() {
	try {
		const s = await getJSON('/cluster/listnodes');
		if (s.code === 200 && Array.isArray(s.body)) st.nodes = s.body;
	} catch (e) { /* the banner already says when the agent is gone */ }
	schedule();
}

// ---------------------------------------------------------------- aggregation
// Histograms are sparse [[upper_us, count], ...] with identical buckets everywhere
// (docs/REPORT.md): merging is adding counts of equal upper bounds.
function histAdd(m, hist) {
	for (const [u, c] of hist || []) m.set(u, (m.get(u) || 0) + c);
}
// Nearest-rank percentile: the upper bound of the bucket holding rank ceil(q*n), within
// [min, max]. At most one bucket (1/64 of the value) above the exact value.
function histQuantile(m, q, min, max) {
	const b = [...m.entries()].sort((x, y) => x[0] - y[0]);
	const n = b.reduce((a, x) => a + x[1], 0);
	if (!n) return null;
	const rank = Math.max(1, Math.ceil(q * n));
	let acc = 0;
	for (const [u, c] of b) {
		acc += c;
		if (acc >= rank) return Math.min(Math.max(u, min ?? u), max ?? u);
	}
	return b[b.length - 1][0];
}

function filters() {
	return {
		db: $('f-db').value, user: $('f-user').value, client: $('f-client').value,
		app: $('f-app').value,
		cmd: $('f-cmd').value, window: Number($('f-window').value) || KEEP,
	};
}
function passes(f, s) {
	return (!f.db || s.db === f.db) && (!f.user || s.user === f.user) &&
		(!f.app || s.app === f.app) &&
		(!f.client || s.client === f.client) && (!f.cmd || s.command === f.cmd);
}

// Rows of equal (template, command) over the window, after the filters.
function aggregate(reports, f) {
	const rows = new Map();
	let ms = 0;
	reports.forEach((r, i) => {
		ms += Math.max(0, r.period_end_ms - r.period_start_ms);
		for (const s of r.stats) {
			if (!passes(f, s)) continue;
			const k = `${s.template_id}|${s.command}`;
			let a = rows.get(k);
			if (!a) {
				a = { key: k, id: s.template_id, command: s.command, count: 0, errors: 0,
					sum: 0, min: Infinity, max: 0, rows: 0, hist: new Map(), codes: new Map(),
					per: new Map(), dbs: new Set(), users: new Set(), clients: new Set() };
				rows.set(k, a);
			}
			const l = s.latency_us;
			a.count += s.count;
			a.errors += s.errors || 0;
			a.sum += l.sum;
			if (s.count) {
				a.min = Math.min(a.min, l.min ?? Infinity);
				a.max = Math.max(a.max, l.max ?? 0);
			}
			a.rows += (s.rows_sent || 0) + (s.rows_affected || 0);
			histAdd(a.hist, l.hist);
			for (const [c, n] of Object.entries(s.error_codes || {}))
				a.codes.set(c, (a.codes.get(c) || 0) + n);
			let p = a.per.get(i);
			if (!p) a.per.set(i, (p = { count: 0, hist: new Map(), min: Infinity, max: 0 }));
			p.count += s.count;
			histAdd(p.hist, l.hist);
			p.min = Math.min(p.min, l.min ?? Infinity);
			p.max = Math.max(p.max, l.max ?? 0);
			a.dbs.add(s.db); a.users.add(s.user); a.clients.add(s.client);
		}
	});
	const secs = ms / 1000 || 1;
	for (const a of rows.values()) {
		a.load = a.sum / 1e6 / secs;
		a.rate = a.count / secs;
		a.mean = a.count ? a.sum / a.count : 0;
		a.p99 = histQuantile(a.hist, 0.99, a.min, a.max);
	}
	return { rows: [...rows.values()], secs };
}

const SORTS = {
	load: (a) => a.load, count: (a) => a.count, rate: (a) => a.rate, mean: (a) => a.mean,
	p99: (a) => a.p99 || 0, errors: (a) => a.errors, rows: (a) => a.rows,
};
function ranked(rows) {
	const f = SORTS[st.sort] || SORTS.load;
	// Ties by count, then by id: the same data always gives the same order.
	return rows.sort((x, y) => f(y) - f(x) || y.count - x.count || (x.key < y.key ? -1 : 1));
}

// ---------------------------------------------------------------- rendering
function schedule() {
	if (st.dirty) return;
	st.dirty = true;
	requestAnimationFrame(() => { st.dirty = false; render(); });
}

function windowReports(f) {
	return st.reports.slice(-f.window);
}

function render() {
	const f = filters();
	const reps = windowReports(f);
	renderHeader();
	renderFilters();
	renderHealth(reps);
	renderNodes(reps);
	const { rows } = aggregate(reps, f);
	renderOverview(ranked(rows), reps.length);
	renderDetail(rows.find((a) => a.key === st.selected), reps);
}

function renderHeader() {
	const last = st.reports[st.reports.length - 1];
	const s = st.status || {};
	$('node').textContent = `${last ? last.node : s.node || location.host} · ${last ? last.role : s.role || ''}`;
	$('period').textContent = last ?
		`last period ${fmtTime(last.period_start_ms)}–${fmtTime(last.period_end_ms)} (${fmtUs((last.period_end_ms - last.period_start_ms) * 1000)}), seq ${last.seq}` : 'waiting for the first report';
}

function fillSelect(id, values) {
	const s = $(id), cur = s.value;
	const want = ['', ...[...values].sort()];
	const have = [...s.options].map((o) => o.value);
	if (want.join('\0') === have.join('\0')) return;
	s.replaceChildren(...want.map((v) => el('option', { value: v }, v === '' ? 'all' : v || '(none)')));
	s.value = want.includes(cur) ? cur : '';
}
function renderFilters() {
	const db = new Set(), user = new Set(), client = new Set(), app = new Set();
	for (const r of st.reports)
		for (const s of r.stats) {
			db.add(s.db); user.add(s.user); client.add(s.client);
			if (s.app != null) app.add(s.app); // rows carry "app" when enrichment is on
		}
	fillSelect('f-db', db); fillSelect('f-user', user); fillSelect('f-client', client);
	fillSelect('f-app', app);
	$('l-app').hidden = app.size === 0;
}

function renderHealth(reps) {
	const sum = {};
	let complete = 0, slowDropped = 0, outDropped = 0;
	const keys = ['dropped', 'gaps', 'resyncs', 'decode_errors', 'unknown_stmt', 'tls_conns',
		'keys_overflow', 'devices_detached', 'late', 'stalled_ms'];
	for (const r of reps) {
		const c = r.capture || {};
		for (const k of keys) sum[k] = (sum[k] || 0) + (c[k] || 0);
		if (!c.dropped && !c.gaps && !c.devices_detached && !c.stalled_ms) complete++;
		slowDropped += r.slow_dropped || 0;
		for (const o of Object.values(r.outputs || {})) outDropped += o.dropped || 0;
	}
	const items = [
		['periods complete', `${complete}/${reps.length}`, complete < reps.length],
		['capture drops', fmtNum(sum.dropped || 0), sum.dropped > 0],
		['gaps', fmtNum(sum.gaps || 0), sum.gaps > 0],
		['decode errors', fmtNum(sum.decode_errors || 0), sum.decode_errors > 0],
		['resyncs', fmtNum(sum.resyncs || 0), false],
		['TLS connections', fmtNum(sum.tls_conns || 0), sum.tls_conns > 0],
		['unknown commands', fmtNum(sum.unknown_stmt || 0), false],
		['keys overflow', fmtNum(sum.keys_overflow || 0), sum.keys_overflow > 0],
		['stalled', fmtUs((sum.stalled_ms || 0) * 1000), sum.stalled_ms > 0],
		['devices detached', fmtNum(sum.devices_detached || 0), sum.devices_detached > 0],
		['slow samples not kept', fmtNum(slowDropped), false],
		['reports lost', fmtNum(st.lost + outDropped), st.lost > 0],
	];
	$('health').replaceChildren(el('h2', {}, `Capture health, last ${reps.length} period(s)`),
		el('div', {}, ...items.map(([k, v, bad]) => el('span', { class: bad ? 'bad' : '', 'data-k': k }, `${k}: ${v}`))));
}

function renderNodes(reps) {
	const box = $('nodes');
	const last = reps[reps.length - 1];
	const inReport = last && last.nodes ? Object.entries(last.nodes) : [];
	if (!st.nodes && !inReport.length) { box.hidden = true; return; }
	box.hidden = false;
	const kids = [el('h2', {}, 'Nodes')];
	if (st.nodes) {
		const leader = st.nodes.find((n) => n.state === 'leader' || n.role === 'master');
		kids.push(el('p', {}, `leader: ${leader ? leader.addr : 'none'}`));
		const t = el('table', {}, el('tr', {}, ...['node', 'role', 'state', 'last seq', 'lag', 'term']
			.map((h) => el('th', { class: h === 'node' ? 'l' : '' }, h))));
		for (const n of st.nodes)
			t.append(el('tr', {}, el('td', { class: 'l' }, n.addr), el('td', {}, n.role),
				el('td', { class: n.state === 'down' ? 'err' : '' }, n.state), el('td', {}, n.last_seq ?? '–'),
				el('td', {}, n.lag_ms == null ? '–' : fmtUs(n.lag_ms * 1000)), el('td', {}, n.term ?? 0)));
		kids.push(t);
	}
	if (inReport.length)
		kids.push(el('p', {}, 'in the last merged report: ' + inReport.map(([n, v]) => `${n} ${v.status}`).join(', ')));
	box.replaceChildren(...kids);
}

// A sparkline: one point per period of the window, scaled to its own maximum.
function spark(values, color) {
	const w = 60, h = 16, n = values.length;
	const max = Math.max(...values, 0) || 1;
	const s = svg('svg', { class: 'spark', width: w, height: h, viewBox: `0 0 ${w} ${h}` });
	const pts = values.map((v, i) => `${n > 1 ? (i * w / (n - 1)).toFixed(1) : w / 2},${(h - 1 - (v / max) * (h - 2)).toFixed(1)}`);
	s.append(svg('polyline', { points: pts.join(' '), fill: 'none', stroke: color, 'stroke-width': 1.2 }));
	return s;
}

function templateText(id) {
	if (id === 'other') return '(other: over max_keys)';
	return st.templates.get(id) ?? `(template ${id}: text not received)`;
}

function renderOverview(rows, nperiods) {
	const tb = $('rows');
	for (const th of document.querySelectorAll('#overview th[data-sort]'))
		th.classList.toggle('sorted', th.dataset.sort === st.sort);
	$('empty').hidden = rows.length > 0;
	tb.replaceChildren(...rows.map((a, i) => {
		const rate = [], p99 = [];
		for (let k = 0; k < nperiods; k++) {
			const p = a.per.get(k);
			rate.push(p ? p.count : 0);
			p99.push(p ? histQuantile(p.hist, 0.99, p.min, p.max) || 0 : 0);
		}
		const tr = el('tr', { 'data-key': a.key, 'data-id': a.id, 'data-count': a.count, 'data-errors': a.errors,
			class: a.key === st.selected ? 'selected' : '' },
			el('td', {}, i + 1),
			el('td', { class: 'tmpl', title: templateText(a.id) }, templateText(a.id)),
			el('td', { class: 'cmd' }, a.command),
			el('td', { class: 'load' }, fmtLoad(a.load)),
			el('td', { class: 'count' }, fmtNum(a.count)),
			el('td', { class: 'rate' }, fmtRate(a.rate)),
			el('td', { class: 'mean' }, fmtUs(a.mean)),
			el('td', { class: 'p99' }, fmtUs(a.p99)),
			el('td', { class: a.errors ? 'errors err' : 'errors' }, fmtNum(a.errors)),
			el('td', { class: 'rows' }, fmtNum(a.rows)),
			el('td', { class: 'trend' }, spark(rate, '#245ea8'), ' ', spark(p99, '#b3392f')));
		tr.onclick = () => { st.selected = a.key; render(); };
		return tr;
	}));
}

// The histogram drawn per power of two of latency (1 µs, 2 µs, 4 µs, ...): the report's
// fine buckets summed into bars a person can read.
function histSvg(hist) {
	const bins = new Map();
	for (const [u, c] of hist) {
		const b = u < 1 ? 0 : Math.floor(Math.log2(u));
		bins.set(b, (bins.get(b) || 0) + c);
	}
	if (!bins.size) return el('p', { class: 'muted' }, 'no latencies');
	const lo = Math.min(...bins.keys()), hi = Math.max(...bins.keys());
	const n = hi - lo + 1, bw = Math.max(14, Math.min(64, Math.floor(560 / n)));
	// An axis label is ~50 px wide: label every bin only when the bars are that wide.
	const every = bw >= 52 ? 1 : Math.ceil(n / 8);
	const w = n * bw + 10, h = 140, ch = 100;
	const max = Math.max(...bins.values());
	const s = svg('svg', { class: 'hist', width: w, height: h, viewBox: `0 0 ${w} ${h}` });
	for (let b = lo; b <= hi; b++) {
		const c = bins.get(b) || 0, x = 5 + (b - lo) * bw, bh = c ? Math.max(1, c / max * ch) : 0;
		const r = svg('rect', { x, y: 10 + ch - bh, width: bw - 2, height: bh, fill: '#245ea8' });
		const t = svg('title', {});
		t.textContent = `${fmtUs(2 ** b)} – ${fmtUs(2 ** (b + 1))}: ${c}`;
		r.append(t);
		s.append(r);
		if (c) {
			const lbl = svg('text', { x: x + (bw - 2) / 2, y: 8 + ch - bh, 'text-anchor': 'middle' });
			lbl.textContent = fmtNum(c);
			s.append(lbl);
		}
		if ((b - lo) % every === 0) {
			const ax = svg('text', { x, y: h - 16 });
			ax.textContent = fmtUs(2 ** b);
			s.append(ax);
		}
	}
	return s;
}

function renderDetail(a, reps) {
	const box = $('detail');
	if (!st.selected) { box.hidden = true; return; }
	box.hidden = false;
	const id = st.selected.split('|')[0];
	// Running now: the newest report's statements of this template still running at its end.
	const last = reps.length ? reps[reps.length - 1] : null;
	const running = el('table', { id: 'running' }, el('tr', {}, ...['started', 'running for', 'db', 'user', 'client', 'SQL']
		.map((h) => el('th', { class: h === 'SQL' ? 'l' : '' }, h))));
	let nrun = 0;
	for (const s of (last && last.running) || []) {
		if (s.template_id !== id) continue;
		nrun++;
		running.append(el('tr', { class: 'sample' }, el('td', {}, fmtTime(s.ts_us / 1000)), el('td', { class: 'lat' }, fmtUs(s.elapsed_us)),
			el('td', {}, s.db), el('td', {}, s.user), el('td', {}, s.client),
			el('td', { class: 'l' }, el('code', {}, s.sql + (s.sql_truncated ? ' …' : '')))));
	}
	const runningPart = [el('h2', {}, `Running at the last period's end (${nrun})`), nrun ? running : el('p', { class: 'muted' }, 'none')];
	if (!a) {
		// A statement still running has no row yet: it is counted when it completes.
		box.replaceChildren(el('h2', {}, 'Template'), el('p', { class: 'muted' }, 'No completed statements of this template in the window.'),
			...runningPart);
		return;
	}
	const codes = el('table', { id: 'codes' }, el('tr', {}, el('th', {}, 'error code'), el('th', { class: 'l' }, 'meaning'), el('th', {}, 'count')));
	for (const [c, n] of [...a.codes.entries()].sort((x, y) => y[1] - x[1]))
		codes.append(el('tr', { 'data-code': c }, el('td', {}, c), el('td', { class: 'l' }, ERR_NAMES[c] || ''), el('td', {}, fmtNum(n))));
	const slow = el('table', { id: 'slow' }, el('tr', {}, ...['time', 'latency', 'db', 'user', 'client', 'status', 'SQL']
		.map((h) => el('th', { class: h === 'SQL' ? 'l' : '' }, h))));
	let nslow = 0;
	for (const r of reps)
		for (const s of r.slow || []) {
			if (s.template_id !== a.id) continue;
			nslow++;
			slow.append(el('tr', { class: 'sample' }, el('td', {}, fmtTime(s.ts_us / 1000)), el('td', { class: 'lat' }, fmtUs(s.latency_us)),
				el('td', {}, s.db), el('td', {}, s.user), el('td', {}, s.client),
				el('td', { class: s.status === 'error' ? 'err' : '' }, s.status === 'error' ? `error ${s.error_code}` : 'ok'),
				el('td', { class: 'l' }, el('code', {}, s.sql + (s.sql_truncated ? ' …' : '')))));
		}
	const first = reps.length ? reps[0].period_start_ms : 0;
	box.replaceChildren(
		el('h2', {}, `Template ${a.id} (${a.command})`),
		el('pre', { class: 'sql', id: 'detail-text' }, templateText(a.id)),
		el('p', {}, `${fmtNum(a.count)} statements since ${fmtDateTime(first)}: ${fmtRate(a.rate)}, mean ${fmtUs(a.mean)}, ` +
			`min ${fmtUs(a.min)}, p99 ${fmtUs(a.p99)}, max ${fmtUs(a.max)}, ${fmtNum(a.errors)} errors, ${fmtNum(a.rows)} rows. ` +
			`db: ${[...a.dbs].join(', ') || '(none)'}; user: ${[...a.users].join(', ')}; client: ${[...a.clients].join(', ')}`),
		el('div', { class: 'cols' },
			el('div', {}, el('h2', {}, 'Latency histogram'), histSvg(a.hist)),
			el('div', {}, el('h2', {}, 'Errors'), a.codes.size ? codes : el('p', { class: 'muted' }, 'none'))),
		el('h2', {}, `Slow samples (${nslow})`), nslow ? slow : el('p', { class: 'muted' }, 'none in the window'),
		...runningPart);
}

// ---------------------------------------------------------------- wiring
function init() {
	for (const th of document.querySelectorAll('#overview th[data-sort]'))
		th.onclick = () => { st.sort = th.dataset.sort; render(); };
	for (const id of ['f-db', 'f-user', 'f-client', 'f-app', 'f-cmd', 'f-window'])
		$(id).onchange = render;
	$('login').onsubmit = (ev) => {
		ev.preventDefault();
		st.token = $('token').value;
		// Kept for this tab's session only: asked once, gone when the tab closes.
		sessionStorage.setItem('mysqlprobe.token', st.token);
		$('login').hidden = true;
		st.retryMs = RETRY_MIN_MS;
		start();
	};
	render();
	start();
}
init();
