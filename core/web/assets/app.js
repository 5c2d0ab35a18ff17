/* SPDX-License-Identifier: MIT */
/* Paddock dashboard.  Everything that comes from a task (names, prompts,
 * log lines, messages) is inserted with textContent, never as HTML.  Live
 * data comes from server-sent events: the page never polls. */
'use strict';

const PHASES = ['Pending', 'Waiting', 'Queued', 'Running', 'Succeeded', 'Failed', 'Stopped'];
/* A symbol beside the word: the phase never rests on colour alone. */
const SYMBOL = { Pending: '○', Waiting: '⧗', Queued: '…', Running: '▶', Succeeded: '✓', Failed: '✗', Stopped: '■' };
const LOG_KEEP = 5000;
const PAGE = 200; /* task rows drawn at first, and per "Show more" */
const RENDER_MARK = { tool: '▸ ', result: '  ↳ ', error: '✗ ', usage: 'Σ ', note: '• ' };

let view = null; /* {close()} of the current view */

function el(tag, attrs, ...kids) {
	const e = document.createElement(tag);
	for (const [k, v] of Object.entries(attrs || {})) {
		if (v === undefined || v === null || v === false) continue;
		if (k === 'text') e.textContent = String(v);
		else e.setAttribute(k, v === true ? '' : String(v));
	}
	for (const k of kids) if (k !== null && k !== undefined) e.append(k);
	return e;
}

function phaseBadge(phase) {
	return el('span', { class: 'phase phase-' + phase, text: (SYMBOL[phase] || '?') + ' ' + phase });
}

function utc(ms) { return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC'); }

/* A time in the viewer's zone, its UTC value on hover. */
function timeEl(ms, text) {
	if (!ms) return el('span', { class: 'empty', text: '—' });
	const d = new Date(ms);
	return el('time', { datetime: d.toISOString(), title: utc(ms), text: text || d.toLocaleString() });
}

function span(s) {
	s = Math.max(0, Math.floor(s));
	if (s < 60) return s + 's';
	if (s < 3600) return Math.floor(s / 60) + 'm' + (s % 60 ? (s % 60) + 's' : '');
	if (s < 86400) return Math.floor(s / 3600) + 'h' + (Math.floor(s / 60) % 60 ? (Math.floor(s / 60) % 60) + 'm' : '');
	return Math.floor(s / 86400) + 'd' + (Math.floor(s / 3600) % 24 ? (Math.floor(s / 3600) % 24) + 'h' : '');
}

function duration(r) {
	if (!r.start) return '';
	return span(((r.end || Date.now()) - r.start) / 1000);
}

function tokens(r) {
	if (r.inTokens === undefined && r.outTokens === undefined) return '';
	return (r.inTokens || 0).toLocaleString() + ' / ' + (r.outTokens || 0).toLocaleString();
}

function cost(v) { return v === undefined ? '' : '$' + Number(v).toFixed(4); }

function setConn(text) { document.getElementById('conn').textContent = text; }

function token() { return document.getElementById('token').value.trim(); }

function q(params) { return new URLSearchParams(params).toString(); }

async function getJSON(url) {
	const r = await fetch(url, { headers: { Accept: 'application/json' }, cache: 'no-store' });
	if (!r.ok) {
		const b = await r.json().catch(() => ({}));
		throw new Error(url + ': HTTP ' + r.status + (b.error ? ': ' + b.error : ''));
	}
	return r.json();
}

/* ---- tasks ---------------------------------------------------------------- */

function labelsMatch(r, want) {
	if (!want) return true;
	const labels = r.labels || {};
	return want.split(',').map(s => s.trim()).filter(Boolean).every(term => {
		const i = term.indexOf('=');
		if (i < 0) return term in labels;
		return labels[term.slice(0, i).trim()] === term.slice(i + 1).trim();
	});
}

function optionsOf(select, values, keep) {
	const cur = select.value;
	const want = ['', ...values];
	const have = Array.from(select.options).map(o => o.value);
	if (want.join('\n') === have.join('\n')) return;
	select.replaceChildren(...want.map(v => el('option', { value: v, text: v || 'all' })));
	select.value = want.includes(cur) ? cur : (keep || '');
}

function tasksView(main) {
	const rows = new Map(); /* "ns/name" -> row */
	const f = {
		ns: el('select', { id: 'f-ns' }), agent: el('select', { id: 'f-agent' }),
		phase: el('select', { id: 'f-phase' }), label: el('input', { id: 'f-label', type: 'search', placeholder: 'key=value' }),
	};
	optionsOf(f.phase, PHASES);
	const params = new URLSearchParams(location.hash.split('?')[1] || '');
	const tbody = el('tbody', { id: 'tasks-body' });
	const count = el('p', { id: 'tasks-count', role: 'status', 'aria-live': 'polite' });
	const more = el('button', { id: 'tasks-more', type: 'button', hidden: true });
	let limit = PAGE;
	const table = el('table', { id: 'tasks' },
		el('caption', { class: 'skip', text: 'Tasks' }),
		el('thead', {}, el('tr', {},
			...[['Name'], ['Namespace', 'wide'], ['Agent'], ['Phase'], ['Reason', 'wide'], ['Age'], ['Duration', 'wide'],
				['Tokens in / out', 'wide'], ['Cost']].map(([t, c]) => el('th', { scope: 'col', class: c, text: t })))),
		tbody);
	main.replaceChildren(el('h1', { text: 'Tasks' }),
		el('div', { class: 'filters', role: 'search' },
			el('label', {}, 'Namespace', f.ns), el('label', {}, 'Agent', f.agent),
			el('label', {}, 'Phase', f.phase), el('label', {}, 'Label', f.label)),
		count, el('div', { class: 'scroll', tabindex: '0', 'aria-label': 'Tasks table' }, table), more);
	more.addEventListener('click', () => { limit += PAGE; schedule(); });
	for (const k of ['ns', 'agent', 'phase', 'label']) {
		if (params.get(k)) {
			if (f[k].tagName === 'SELECT') optionsOf(f[k], [params.get(k)]);
			f[k].value = params.get(k);
		}
		f[k].addEventListener('input', () => { schedule(); remember(); });
	}
	function remember() {
		const p = {};
		for (const k of Object.keys(f)) if (f[k].value) p[k] = f[k].value;
		const h = '#/tasks' + (Object.keys(p).length ? '?' + q(p) : '');
		if (location.hash !== h) history.replaceState(null, '', h);
	}
	let pending = false, painted = false;
	function schedule() {
		if (pending) return;
		pending = true;
		requestAnimationFrame(render);
	}
	function render() {
		pending = false;
		const all = Array.from(rows.values());
		optionsOf(f.ns, [...new Set(all.map(r => r.ns))].sort(), params.get('ns'));
		optionsOf(f.agent, [...new Set(all.map(r => r.agent))].sort(), params.get('agent'));
		const shown = all.filter(r => (!f.ns.value || r.ns === f.ns.value) && (!f.agent.value || r.agent === f.agent.value) &&
			(!f.phase.value || r.phase === f.phase.value) && labelsMatch(r, f.label.value))
			.sort((a, b) => b.created - a.created || (a.name < b.name ? -1 : 1));
		const now = Date.now();
		/* The newest `limit` rows: a store of thousands stays quick to
		 * draw, and every live update redraws only those. */
		const drawn = shown.slice(0, limit);
		more.hidden = shown.length <= limit;
		more.textContent = 'Show ' + Math.min(PAGE, shown.length - limit) + ' more (' + (shown.length - limit) + ' not shown)';
		tbody.replaceChildren(...drawn.map(r => {
			const tr = el('tr', { 'data-key': r.ns + '/' + r.name, 'data-phase': r.phase });
			const link = el('a', { href: '#/task/' + encodeURIComponent(r.ns) + '/' + encodeURIComponent(r.name), text: r.name });
			tr.append(el('td', {}, link), el('td', { class: 'wide', text: r.ns }), el('td', { text: r.agent }),
				el('td', {}, phaseBadge(r.phase), r.stopRequested && !['Stopped', 'Succeeded', 'Failed'].includes(r.phase) ? ' (stopping)' : ''),
				el('td', { class: 'wide', text: r.reason || '', title: r.message || null }),
				el('td', {}, timeEl(r.created, span((now - r.created) / 1000))),
				el('td', { class: 'wide num', text: duration(r) }), el('td', { class: 'wide num', text: tokens(r) }),
				el('td', { class: 'num', text: cost(r.cost) }));
			return tr;
		}));
		if (!shown.length)
			tbody.append(el('tr', {}, el('td', { colspan: '9', class: 'empty', text: all.length ? 'No task matches the filters.' : 'No tasks yet.' })));
		count.textContent = (drawn.length < shown.length ? drawn.length + ' shown, ' : '') + shown.length + ' of ' + all.length + ' tasks';
		if (!painted) {
			painted = true;
			performance.mark('paddock-tasks-painted');
			document.body.dataset.ready = 'tasks';
		}
	}
	let es = null, closed = false, reloading = false;
	async function load() {
		const snap = await getJSON('/api/tasks');
		rows.clear();
		for (const r of snap.tasks) rows.set(r.ns + '/' + r.name, r);
		schedule();
		return snap.rv;
	}
	function open(rv) {
		if (closed) return;
		es = new EventSource('/api/stream?' + q({ since: rv }));
		es.onopen = () => setConn('live');
		es.onerror = () => setConn('reconnecting…');
		es.addEventListener('tasks', ev => {
			for (const r of JSON.parse(ev.data)) rows.set(r.ns + '/' + r.name, r);
			schedule();
		});
		/* More rows here than Tasks in the store: some were deleted; a
		 * fresh snapshot (one request, on this event only). */
		es.addEventListener('total', async ev => {
			if (rows.size <= JSON.parse(ev.data) || reloading) return;
			reloading = true;
			try { await load(); } finally { reloading = false; }
		});
	}
	const ticker = setInterval(schedule, 15000); /* ages only: no request */
	load().then(open, e => setConn('error: ' + e.message));
	return { close() { closed = true; clearInterval(ticker); if (es) es.close(); } };
}

/* ---- one task --------------------------------------------------------------- */

function kv(obj) {
	const entries = Object.entries(obj || {});
	if (!entries.length) return el('p', { class: 'empty', text: 'none' });
	const dl = el('dl', { class: 'kv' });
	for (const [k, v] of entries)
		dl.append(el('dt', { text: k }), el('dd', { text: typeof v === 'object' ? JSON.stringify(v) : String(v) }));
	return dl;
}

function taskView(main, ns, name) {
	const h1 = el('h1', {}, name + ' ');
	const badge = el('span', { id: 'task-phase' });
	h1.append(badge);
	const stopBtn = el('button', { id: 'stop', type: 'button', text: 'Stop' });
	const delBtn = el('button', { id: 'delete', type: 'button', text: 'Delete' });
	const status = el('span', { id: 'action-status', role: 'status', 'aria-live': 'polite' });
	const summary = el('div', { id: 'summary' }), usage = el('div', { id: 'usage' });
	const outputs = el('div', { id: 'outputs' }), results = el('div', { id: 'results' });
	const log = el('div', { id: 'log', class: 'log', role: 'log', tabindex: '0', 'aria-label': 'Agent output' });
	const events = el('ol', { id: 'events', class: 'events' });
	const spec = el('pre', { id: 'spec', class: 'spec', tabindex: '0' });
	main.replaceChildren(
		el('p', {}, el('a', { href: '#/tasks', text: '← Tasks' })), h1,
		el('div', { class: 'actions' }, stopBtn, delBtn, status),
		el('div', { class: 'grid' },
			el('section', {}, el('h2', { text: 'Summary' }), summary),
			el('section', {}, el('h2', { text: 'Usage' }), usage),
			el('section', {}, el('h2', { text: 'Outputs' }), outputs),
			el('section', {}, el('h2', { text: 'Results' }), results)),
		el('section', {}, el('h2', { text: 'Agent output' }), log),
		el('section', {}, el('h2', { text: 'Events' }), events),
		el('section', {}, el('h2', { text: 'Spec' }), spec));
	let row = null;
	async function action(what) {
		status.textContent = what + '…';
		try {
			const r = await fetch('/api/task/' + what + '?' + q({ ns, name }), {
				method: 'POST', headers: { 'X-Paddock-Token': token() }, cache: 'no-store',
			});
			const body = await r.json().catch(() => ({}));
			status.textContent = r.ok ? body.result : 'refused (HTTP ' + r.status + '): ' + (body.error || '');
			status.dataset.outcome = r.ok ? 'ok' : 'refused';
		} catch (e) {
			status.textContent = 'failed: ' + e.message;
			status.dataset.outcome = 'refused';
		}
	}
	stopBtn.addEventListener('click', () => action('stop'));
	delBtn.addEventListener('click', () => { if (confirm('Delete task ' + name + '?')) action('delete'); });
	const es = new EventSource('/api/task/stream?' + q({ ns, name }));
	es.onopen = () => { setConn('live'); log.replaceChildren(); };
	es.onerror = () => setConn('reconnecting…');
	es.addEventListener('task', ev => {
		const t = JSON.parse(ev.data);
		row = t.row;
		const st = t.status || {};
		badge.replaceChildren(phaseBadge(row.phase));
		stopBtn.disabled = ['Succeeded', 'Failed', 'Stopped'].includes(row.phase);
		const dl = el('dl', { class: 'kv' });
		const add = (k, v) => dl.append(el('dt', { text: k }), el('dd', {}, v));
		add('Namespace', row.ns);
		add('Agent', row.agent);
		add('Phase', phaseBadge(row.phase));
		add('Reason', row.reason || '—');
		add('Message', row.message || '—');
		add('Created', timeEl(row.created));
		add('Started', timeEl(row.start));
		add('Finished', timeEl(row.end));
		add('Duration', duration(row) || '—');
		const labels = (t.metadata || {}).labels;
		if (labels) add('Labels', Object.entries(labels).map(([k, v]) => k + '=' + v).join(', '));
		summary.replaceChildren(dl);
		const u = Object.assign({}, st.usage || {});
		if (u.costUSD !== undefined) u.costUSD = cost(u.costUSD);
		usage.replaceChildren(kv(u));
		outputs.replaceChildren(kv(st.outputs));
		const res = Object.assign({}, st.results || {});
		if (st.result) res['(result)'] = st.result;
		if (st.exitCode !== undefined) res['(exit code)'] = st.exitCode;
		results.replaceChildren(kv(res));
		spec.textContent = JSON.stringify(t.spec || {}, null, 2);
		document.title = name + ' · ' + row.phase + ' · Paddock';
	});
	es.addEventListener('events', ev => {
		events.replaceChildren(...JSON.parse(ev.data).map(e => el('li', { class: e.type },
			timeEl(e.time), ' ', el('strong', { text: e.reason }), ' ', e.message)));
		if (!events.children.length) events.append(el('li', { class: 'empty', text: 'none yet' }));
	});
	es.addEventListener('log', ev => {
		const stick = log.scrollTop + log.clientHeight >= log.scrollHeight - 8;
		/* A raw line is a string; a line the driver's renderer made is
		 * {k: kind, t: text}: a symbol says its kind, not colour alone. */
		for (const line of JSON.parse(ev.data)) {
			if (typeof line === 'string') log.append(el('div', { text: line }));
			else log.append(el('div', { class: 'r-' + line.k, 'data-kind': line.k, text: (RENDER_MARK[line.k] || '') + line.t }));
		}
		while (log.childElementCount > LOG_KEEP) log.firstElementChild.remove();
		if (stick) log.scrollTop = log.scrollHeight;
	});
	es.addEventListener('gone', ev => {
		badge.replaceChildren(el('span', { class: 'empty', text: JSON.parse(ev.data) }));
		stopBtn.disabled = delBtn.disabled = true;
	});
	return { close() { es.close(); } };
}

/* ---- Agents ------------------------------------------------------------------ */

const SVG = 'http://www.w3.org/2000/svg';
function svgEl(tag, attrs, text) {
	const e = document.createElementNS(SVG, tag);
	for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
	if (text !== undefined) e.textContent = text;
	return e;
}

/* Spend per day as bars, each with its value as a title. */
function spendChart(days, spend, label) {
	const w = 560, h = 140, pad = 28, bw = (w - pad) / days.length;
	const max = Math.max(0, ...days.map(d => spend[d] || 0));
	const svg = svgEl('svg', { class: 'spend', viewBox: `0 0 ${w} ${h + 20}`, role: 'img', 'aria-label': label });
	svg.append(svgEl('title', {}, label));
	svg.append(svgEl('line', { x1: pad, y1: h, x2: w, y2: h, stroke: '#999' }));
	svg.append(svgEl('text', { x: 0, y: 12 }, '$' + max.toFixed(2)));
	days.forEach((d, i) => {
		const v = spend[d] || 0;
		const bh = max > 0 ? Math.max(v > 0 ? 1 : 0, (v / max) * (h - 16)) : 0;
		const rect = svgEl('rect', { class: 'bar', x: pad + i * bw + 2, y: h - bh, width: Math.max(1, bw - 4), height: bh });
		rect.append(svgEl('title', {}, d + ': $' + v.toFixed(4)));
		svg.append(rect);
		if (i === 0 || i === days.length - 1 || i % 7 === 0)
			svg.append(svgEl('text', { x: pad + i * bw, y: h + 14 }, d.slice(5)));
	});
	return svg;
}

/* Spawners and Budgets: a table each when there are any; the status as
 * the controller wrote it (text). */
function refName(r) { return r && r.name ? r.name : ''; }
function spawnerSummary(spec) {
	const tpl = ((spec.taskTemplate || {}).spec) || {};
	const agent = tpl.agentRef ? 'Agent ' + refName(tpl.agentRef) : tpl.type ? 'type ' + tpl.type : '';
	const trig = spec.schedule ? 'schedule ' + (spec.schedule.cron || '') + ' ' + (spec.schedule.timeZone || 'UTC')
		: spec.webhook ? 'webhook ' + (spec.webhook.events || []).join(', ') : '';
	return [trig, agent];
}
function budgetSummary(spec) {
	const covers = spec.agentRef ? 'Agent ' + refName(spec.agentRef) : spec.spawnerRef ? 'Spawner ' + refName(spec.spawnerRef) : 'the namespace';
	const caps = [['maxCostUSD', '$'], ['maxTokens', 'tokens '], ['maxTasks', 'tasks ']]
		.filter(([k]) => spec[k] !== undefined).map(([k, p]) => p + spec[k]).join(', ');
	const win = spec.rollingHours ? spec.rollingHours + ' h rolling' : (spec.window || 'day');
	return [covers + ', ' + win, caps];
}
function triggers(title, kind, list, summary) {
	if (!list || !list.length) return [];
	const rows = list.sort((x, y) => (x.key < y.key ? -1 : 1)).map(t => {
		const [what, more] = summary(t.spec || {});
		return el('tr', { ['data-' + kind]: t.key }, el('th', { scope: 'row', text: t.key }), el('td', { text: what }),
			el('td', { text: more }), el('td', { class: 'wide', text: t.status ? JSON.stringify(t.status) : '' }));
	});
	return [el('h2', { text: title }), el('div', { class: 'scroll', tabindex: '0', 'aria-label': title + ' table' },
		el('table', {}, el('thead', {}, el('tr', {}, ...['Name', 'What', '', 'Status'].map(h => el('th', { scope: 'col', text: h })))),
			el('tbody', {}, ...rows)))];
}

function agentsView(main) {
	const body = el('div', { id: 'agents' }, el('p', { class: 'empty', text: 'loading…' }));
	main.replaceChildren(el('h1', { text: 'Agents' }), body);
	async function refresh() {
		const a = await getJSON('/api/agents');
		const list = a.agents.sort((x, y) => (x.key < y.key ? -1 : 1));
		if (!list.length) { body.replaceChildren(el('p', { class: 'empty', text: 'No Agents and no tasks yet.' })); return; }
		const tbody = el('tbody');
		for (const g of list) {
			const queue = g.queue.length ? el('ol', {}, ...g.queue.map(n => el('li', { text: n }))) : el('span', { class: 'empty', text: 'empty' });
			tbody.append(el('tr', { 'data-agent': g.key }, el('th', { scope: 'row', text: g.key }),
				el('td', { class: 'num', text: (g.running || 0) + ' / ' + (g.max ? g.max : 'no limit') }),
				el('td', {}, queue)));
		}
		const charts = list.map(g => {
			const total = Object.values(g.spend).reduce((s, v) => s + v, 0);
			return el('section', {}, el('h2', { text: g.key + ' — $' + total.toFixed(4) + ' in ' + a.days.length + ' days' }),
				spendChart(a.days, g.spend, 'Spend per day (UTC) of ' + g.key));
		});
		body.replaceChildren(
			el('p', { text: 'Global limit: ' + a.maxConcurrentTasks + ' running tasks.' }),
			...triggers('Spawners', 'spawner', a.spawners, spawnerSummary),
			...triggers('Budgets', 'budget', a.budgets, budgetSummary),
			el('div', { class: 'scroll', tabindex: '0', 'aria-label': 'Agents table' }, el('table', {},
				el('thead', {}, el('tr', {}, el('th', { scope: 'col', text: 'Agent' }), el('th', { scope: 'col', text: 'Running / capacity' }),
					el('th', { scope: 'col', text: 'Queue, oldest first' }))), tbody)),
			...charts);
		document.body.dataset.ready = 'agents';
	}
	/* Live: any task change refreshes (at most twice a second). */
	let timer = null;
	const es = new EventSource('/api/stream');
	es.onopen = () => setConn('live');
	es.onerror = () => setConn('reconnecting…');
	es.addEventListener('tasks', () => { if (!timer) timer = setTimeout(() => { timer = null; refresh(); }, 500); });
	refresh().catch(e => setConn('error: ' + e.message));
	return { close() { es.close(); clearTimeout(timer); } };
}

/* ---- routing ------------------------------------------------------------------ */

function route() {
	if (view) view.close();
	const main = document.getElementById('main');
	const path = (location.hash || '#/tasks').slice(1).split('?')[0];
	const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
	delete document.body.dataset.ready;
	document.title = 'Paddock';
	let which = 'tasks';
	if (parts[0] === 'task' && parts.length === 3) { which = 'task'; view = taskView(main, parts[1], parts[2]); }
	else if (parts[0] === 'agents') { which = 'agents'; view = agentsView(main); }
	else view = tasksView(main);
	for (const [id, w] of [['nav-tasks', 'tasks'], ['nav-agents', 'agents']]) {
		const a = document.getElementById(id);
		if (w === which) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
	}
	if (document.activeElement && document.activeElement.tagName === 'A') main.focus({ preventScroll: true });
}

document.addEventListener('DOMContentLoaded', () => {
	const tok = document.getElementById('token');
	/* `paddock dashboard` prints its URL with ?token=: keep it for this
	 * tab and take it out of the address bar (and of the history). */
	const given = new URLSearchParams(location.search).get('token');
	if (given) {
		sessionStorage.setItem('paddock-token', given);
		history.replaceState(null, '', location.pathname + location.hash);
	}
	tok.value = sessionStorage.getItem('paddock-token') || '';
	tok.addEventListener('input', () => sessionStorage.setItem('paddock-token', tok.value));
	window.addEventListener('hashchange', route);
	route();
});
