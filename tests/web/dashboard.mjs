// SPDX-License-Identifier: MIT
// The dashboard in a real headless Chromium (Debian's chromium, driven by
// puppeteer-core), against a real `paddock controller` started by
// tests/web/run.sh.  Env: PORT, TOKEN, PADDOCK_BIN, PAUSE_DIR, SHOTS.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { check, finish, launch, newPage as openPage, request as httpRequest, sleep, testCase, until } from './lib.mjs';

const { PORT, TOKEN, PADDOCK_BIN, PAUSE_DIR, SHOTS } = process.env;
const BASE = `http://127.0.0.1:${PORT}`;

function pd(...args) { return execFileSync(PADDOCK_BIN, args, { encoding: 'utf8' }); }
function phaseOf(name) { return JSON.parse(pd('get', 'task', name, '-o', 'json')).status.phase; }

const browser = await launch();
const newPage = (width, height) => openPage(browser, width, height);
const request = (method, p, headers) => httpRequest(PORT, method, p, headers);
const shot = (page, name) => page.screenshot({ path: path.join(SHOTS, name + '.png'), fullPage: true });

try {
	await testCase('tasks list: a new task shows Pending, Running, Succeeded without a reload', async () => {
		const page = await newPage();
		await page.goto(`${BASE}/#/tasks`);
		await page.waitForSelector('body[data-ready="tasks"]');
		await page.evaluate(() => { window.__sameDocument = 'yes'; });
		let navigations = 0;
		page.on('framenavigated', f => { if (f === page.mainFrame()) navigations++; });
		// The controller pauses before recording Running (test hook): the
		// task stays Pending until we let it go.
		pd('run', '--detach', '--agent', 'slow', '--name', 'live-1', '-p', 'hello');
		const row = 'tr[data-key="default/live-1"]';
		await page.waitForSelector(`${row}[data-phase="Pending"]`, { timeout: 15000 });
		const pendingText = await page.$eval(row, r => r.textContent);
		check(pendingText.includes('○ Pending'), 'the phase is shown as a word with a symbol: ' + pendingText);
		await shot(page, 'tasks-pending');
		await until('the pause point', () => fs.existsSync(path.join(PAUSE_DIR, 'before-running.reached')));
		fs.writeFileSync(path.join(PAUSE_DIR, 'before-running.continue'), '');
		await page.waitForSelector(`${row}[data-phase="Running"]`, { timeout: 15000 });
		await page.waitForSelector(`${row}[data-phase="Succeeded"]`, { timeout: 30000 });
		const text = await page.$eval(row, r => r.textContent);
		check(text.includes('✓ Succeeded'), 'Succeeded as text: ' + text);
		check(await page.evaluate(() => window.__sameDocument) === 'yes', 'the page was reloaded');
		check(navigations === 0, `${navigations} navigations`);
		// Times: the viewer's zone shown, UTC on hover.
		const title = await page.$eval(`${row} time`, t => t.getAttribute('title'));
		check(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/.test(title), 'UTC on hover: ' + title);
		// Filters: phase Failed hides it, Succeeded shows it.
		await page.select('#f-phase', 'Failed');
		await page.waitForFunction(r => !document.querySelector(r), {}, row);
		await page.select('#f-phase', 'Succeeded');
		await page.waitForSelector(row);
		await page.select('#f-phase', '');
		check(page.cspViolations.length === 0, 'CSP violations: ' + page.cspViolations.join('; '));
		await shot(page, 'tasks');
		await page.close();
	});

	await testCase('task page: lines stream as the agent prints them; <script> and <img onerror> stay text', async () => {
		const page = await newPage();
		pd('run', '--detach', '--agent', 'slow', '--name', 'live-2', '-p', 'hello');
		await page.goto(`${BASE}/#/task/default/live-2`);
		// Line 2 is on the page while the agent has not printed line 5 yet
		// (it prints one line a second): streamed, not loaded at the end.
		await page.waitForFunction(() => document.querySelector('#log').textContent.includes('line 2'), { timeout: 20000 });
		const early = await page.$eval('#log', l => l.textContent);
		check(!early.includes('line 5'), 'all lines at once: not streamed');
		check(phaseOf('live-2') === 'Running', 'the task should still be running');
		await page.waitForFunction(() => document.querySelector('#log').textContent.includes('line 5'), { timeout: 20000 });
		await page.waitForFunction(() => document.querySelector('#task-phase').textContent.includes('Succeeded'), { timeout: 20000 });
		const log = await page.$eval('#log', l => l.textContent);
		check(log.includes('<script>window.__pwned=1</script>'), 'the <script> text is shown as text');
		check(log.includes('<img src=x onerror=window.__pwned=2>'), 'the <img> text is shown as text');
		check(await page.$$eval('#log script, #log img, main img, main script', n => n.length) === 0, 'an element was created from agent text');
		check(await page.evaluate(() => window.__pwned) === undefined, 'agent script ran');
		// What the agent printed proves the payload reached the page.
		const events = await page.$eval('#events', e => e.textContent);
		check(events.includes('Completed'), 'events timeline: ' + events);
		const spec = await page.$eval('#spec', e => e.textContent);
		check(spec.includes('"agentRef"'), 'spec shown');
		const results = await page.$eval('#results', e => e.textContent);
		check(results.includes('(exit code)'), 'results shown: ' + results);
		await shot(page, 'task');
		await page.close();
	});

	await testCase('stop: refused without the token, stops the task with it', async () => {
		pd('run', '--detach', '--agent', 'sleeper', '--name', 'stop-me', '-p', 'wait');
		await until('stop-me Running', () => phaseOf('stop-me') === 'Running');
		const page = await newPage();
		await page.goto(`${BASE}/#/task/default/stop-me`);
		await page.waitForFunction(() => document.querySelector('#task-phase').textContent.includes('Running'));
		await page.click('#stop');
		await page.waitForSelector('#action-status[data-outcome]');
		const refused = await page.$eval('#action-status', s => [s.dataset.outcome, s.textContent]);
		check(refused[0] === 'refused' && refused[1].includes('401'), 'without token: ' + refused);
		await sleep(1000);
		check(phaseOf('stop-me') === 'Running', 'stopped without a token');
		await page.evaluate(() => document.querySelector('#action-status').removeAttribute('data-outcome'));
		await page.type('#token', 'wrong-token-0123456789');
		await page.click('#stop');
		await page.waitForSelector('#action-status[data-outcome]');
		check(await page.$eval('#action-status', s => s.dataset.outcome) === 'refused', 'a wrong token was accepted');
		await page.evaluate(() => document.querySelector('#action-status').removeAttribute('data-outcome'));
		await page.$eval('#token', t => { t.value = ''; });
		await page.type('#token', TOKEN);
		await page.click('#stop');
		await page.waitForSelector('#action-status[data-outcome]');
		const ok = await page.$eval('#action-status', s => [s.dataset.outcome, s.textContent]);
		check(ok[0] === 'ok', 'with the token: ' + ok);
		await page.waitForFunction(() => document.querySelector('#task-phase').textContent.includes('Stopped'), { timeout: 30000 });
		check(phaseOf('stop-me') === 'Stopped', 'the store says ' + phaseOf('stop-me'));
		await shot(page, 'task-stopped');
		await page.close();
	});

	await testCase('delete: the button (with the token) removes the task; open pages drop it live', async () => {
		const list = await newPage();
		await list.goto(`${BASE}/#/tasks`);
		await list.waitForSelector('tr[data-key="default/stop-me"]');
		const page = await newPage();
		page.on('dialog', d => d.accept());
		await page.goto(`${BASE}/#/task/default/stop-me`);
		await page.waitForFunction(() => document.querySelector('#task-phase').textContent.includes('Stopped'));
		await page.type('#token', TOKEN);
		await page.click('#delete');
		await page.waitForSelector('#action-status[data-outcome="ok"]');
		await page.waitForFunction(() => document.querySelector('#task-phase').textContent.includes('no such task'), { timeout: 30000 });
		// (A tab in the background draws on its next frame: bring it up.)
		await list.bringToFront();
		await list.waitForFunction(() => !document.querySelector('tr[data-key="default/stop-me"]'), { timeout: 30000 });
		check(await list.$('tr[data-key="default/live-1"]') !== null, 'other rows stay');
		let gone = false;
		try { pd('get', 'task', 'stop-me'); } catch { gone = true; }
		check(gone, 'the store still has stop-me');
		await page.close();
		await list.close();
	});

	await testCase('actions: the right token from another origin is refused (CSRF)', async () => {
		const res = await request('POST', '/api/task/delete?ns=default&name=live-1',
			{ 'X-Paddock-Token': TOKEN, Origin: 'http://evil.example' });
		check(res.status === 403, 'cross-origin delete: HTTP ' + res.status);
		const site = await request('POST', '/api/task/delete?ns=default&name=live-1',
			{ 'X-Paddock-Token': TOKEN, 'Sec-Fetch-Site': 'cross-site' });
		check(site.status === 403, 'cross-site delete: HTTP ' + site.status);
		const rebind = await request('GET', '/api/tasks', { Host: 'attacker.example:' + PORT });
		check(rebind.status === 403, 'a foreign Host (DNS rebinding): HTTP ' + rebind.status);
		check(phaseOf('live-1') === 'Succeeded', 'live-1 is still there');
		// Behind a proxy that rewrites Host, the browser's name comes in
		// X-Forwarded-Host: same origin (a finished task: 409, not 403).
		const proxied = await request('POST', '/api/task/stop?ns=default&name=live-1',
			{ 'X-Paddock-Token': TOKEN, Origin: 'https://dash.example', 'X-Forwarded-Host': 'dash.example' });
		check(proxied.status === 409, 'behind a proxy: HTTP ' + proxied.status + ' ' + proxied.body);
		// A page on another origin cannot even send the header: the
		// preflight is never granted.
		const pre = await request('OPTIONS', '/api/task/stop?ns=default&name=live-1',
			{ Origin: 'http://evil.example', 'Access-Control-Request-Method': 'POST' });
		check(!pre.headers['access-control-allow-origin'], 'a CORS grant');
	});

	await testCase('Agents: capacity, queue in order, spend per day as SVG; Budgets', async () => {
		// sleeper holds its one slot; two more wait in order.
		pd('run', '--detach', '--agent', 'sleeper', '--name', 'hold', '-p', 'x');
		await until('hold Running', () => phaseOf('hold') === 'Running');
		pd('run', '--detach', '--agent', 'sleeper', '--name', 'q-first', '-p', 'x');
		pd('run', '--detach', '--agent', 'sleeper', '--name', 'q-second', '-p', 'x');
		await until('queued', () => phaseOf('q-second') === 'Queued');
		const page = await newPage();
		await page.goto(`${BASE}/#/agents`);
		await page.waitForSelector('body[data-ready="agents"]');
		await page.waitForFunction(() => {
			const r = document.querySelector('tr[data-agent="default/sleeper"]');
			return r && r.textContent.includes('q-second');
		});
		const row = await page.$eval('tr[data-agent="default/sleeper"]', r => r.textContent);
		check(row.includes('1 / 1'), 'capacity in use: ' + row);
		check(row.indexOf('q-first') < row.indexOf('q-second'), 'queue order: ' + row);
		check(await page.$$eval('svg.spend', s => s.length) >= 2, 'spend charts');
		// Budgets when there are any.
		fs.writeFileSync(path.join(PAUSE_DIR, 'budget.yaml'), 'apiVersion: paddock.dev/v1alpha1\nkind: Budget\n' +
			'metadata: {name: sleeper-daily}\nspec: {agentRef: {name: sleeper}, window: day, maxCostUSD: 5}\n');
		pd('apply', '-f', path.join(PAUSE_DIR, 'budget.yaml'));
		await page.reload();
		await page.waitForSelector('tr[data-budget="default/sleeper-daily"]');
		const budget = await page.$eval('tr[data-budget="default/sleeper-daily"]', r => r.textContent);
		check(budget.includes('Agent sleeper, day') && budget.includes('$5'), 'the Budget: ' + budget);
		check(page.cspViolations.length === 0, 'CSP violations: ' + page.cspViolations.join('; '));
		await shot(page, 'agents');
		await page.close();
		for (const n of ['hold', 'q-first', 'q-second']) pd('stop', n);
	});

	await testCase('accessible: keyboard navigation, 320 px without sideways scrolling', async () => {
		const page = await newPage(320, 640);
		await page.goto(`${BASE}/#/tasks`);
		await page.waitForSelector('body[data-ready="tasks"]');
		const width = await page.evaluate(() => document.documentElement.scrollWidth);
		check(width <= 320, 'the page is ' + width + ' px wide at 320');
		await shot(page, 'tasks-320px');
		await page.keyboard.press('Tab');
		check(await page.evaluate(() => document.activeElement.textContent) === 'Skip to content', 'first Tab: skip link');
		await page.keyboard.press('Tab');
		await page.keyboard.press('Tab');
		check(await page.evaluate(() => document.activeElement.id) === 'nav-agents', 'Tab reaches the Agents link');
		await page.keyboard.press('Enter');
		await page.waitForSelector('body[data-ready="agents"]');
		check(await page.$eval('#nav-agents', a => a.getAttribute('aria-current')) === 'page', 'aria-current');
		await page.goto(`${BASE}/#/task/default/live-2`);
		await page.waitForFunction(() => document.querySelector('#task-phase').textContent.includes('Succeeded'));
		await shot(page, 'task-320px');
		const big = await newPage(2560, 1440);
		await big.goto(`${BASE}/#/tasks`);
		await big.waitForSelector('body[data-ready="tasks"]');
		await shot(big, 'tasks-2560px');
		await big.close();
		await page.close();
	});

	await testCase('bounded: a flood of event streams is refused, /healthz and /metrics still answer', async () => {
		const streams = [];
		let ok = 0, busy = 0;
		// 200 streams from 25 loopback addresses: the per-address and the
		// global caps both bite.
		await Promise.all(Array.from({ length: 200 }, (_, i) => new Promise(resolve => {
			const req = http.get({ host: '127.0.0.1', port: PORT, path: '/api/stream', localAddress: `127.0.0.${2 + (i % 25)}`,
				headers: { Accept: 'text/event-stream' } }, res => {
				if (res.statusCode === 200) ok++;
				else if (res.statusCode === 503) busy++;
				res.on('data', () => {});
				streams.push(req);
				resolve();
			});
			req.on('error', () => resolve());
			streams.push(req);
		})));
		check(ok > 0 && ok <= 64, `${ok} streams accepted (cap 64)`);
		check(busy >= 200 - 64, `${busy} refused with 503`);
		const t0 = Date.now();
		const health = await request('GET', '/healthz', {});
		const metrics = await request('GET', '/metrics', {});
		const ms = Date.now() - t0;
		check(health.status === 200 && health.body === 'ok\n', 'healthz: ' + health.status);
		check(metrics.status === 200 && metrics.body.includes('paddock_tasks'), 'metrics: ' + metrics.status);
		check(ms < 5000, `health and metrics took ${ms} ms under the flood`);
		console.log(`  flood: ${ok} streams accepted, ${busy} refused; /healthz + /metrics in ${ms} ms`);
		for (const r of streams) r.destroy();
	});
} finally {
	await browser.close();
}

finish();
