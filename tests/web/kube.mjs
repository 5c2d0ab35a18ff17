// SPDX-License-Identifier: MIT
// `paddock dashboard --kubeconfig` in a real headless Chromium against a
// real kube-apiserver, started by tests/web/kube.sh.  Env: ADMIN_URL and
// VIEWER_URL (the URLs the two dashboards printed, with their tokens), NS,
// KUBECTL (with KUBECONFIG: the admin), SHOTS.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { check, finish, launch, newPage as openPage, request as httpRequest, sleep, testCase } from './lib.mjs';

const { ADMIN_URL, VIEWER_URL, NS, KUBECTL, SHOTS } = process.env;
const ADMIN = ADMIN_URL.split('/?')[0], VIEWER = VIEWER_URL.split('/?')[0];
const MARKUP = '<img src=x onerror=window.__pwned=1><script>window.__pwned=2</script>';

function kc(...args) { return execFileSync(KUBECTL, ['--request-timeout=20s', '-n', NS, ...args], { encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] }); }
function apply(doc) { return execFileSync(KUBECTL, ['-n', NS, 'apply', '-f', '-'], { input: JSON.stringify(doc), encoding: 'utf8' }); }
function task(name) { return JSON.parse(kc('get', 'task', name, '-o', 'json')); }
function setStatus(name, status) {
	kc('patch', 'task', name, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status }));
}
function newTask(name) {
	apply({ apiVersion: 'paddock.dev/v1alpha1', kind: 'Task', metadata: { name, namespace: NS },
		spec: { type: 'exec', prompt: 'say ' + MARKUP } });
}

const browser = await launch();
const newPage = (width, height) => openPage(browser, width, height);
const request = (base, method, p, headers) => httpRequest(new URL(base).port, method, p, headers);
const shot = (page, name) => page.screenshot({ path: path.join(SHOTS, 'kube-' + name + '.png'), fullPage: true });
async function noMarkupRan(page) {
	check(await page.$$eval('main img, main script', n => n.length) === 0, 'an element was made from task text');
	check(await page.evaluate(() => window.__pwned) === undefined, 'task text ran as script');
	check(page.cspViolations.length === 0, 'CSP violations: ' + page.cspViolations.join('; '));
}

try {
	await testCase('tasks list: Pending, Running, Succeeded from the watch without a reload; markup stays text', async () => {
		const page = await newPage();
		await page.goto(`${ADMIN}/#/tasks`);
		await page.waitForSelector('body[data-ready="tasks"]');
		await page.evaluate(() => { window.__sameDocument = 'yes'; });
		let navigations = 0;
		page.on('framenavigated', f => { if (f === page.mainFrame()) navigations++; });
		newTask('live-1');
		const row = `tr[data-key="${NS}/live-1"]`;
		await page.waitForSelector(`${row}[data-phase="Pending"]`, { timeout: 15000 });
		await shot(page, 'tasks-pending');
		setStatus('live-1', { phase: 'Running', startTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z') });
		await page.waitForSelector(`${row}[data-phase="Running"]`, { timeout: 15000 });
		setStatus('live-1', { phase: 'Succeeded', reason: 'Completed', message: 'done ' + MARKUP,
			completionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z') });
		await page.waitForSelector(`${row}[data-phase="Succeeded"]`, { timeout: 15000 });
		const text = await page.$eval(row, r => r.textContent);
		check(text.includes('Succeeded') && text.includes('Completed'), 'the row: ' + text);
		check(await page.evaluate(() => window.__sameDocument) === 'yes', 'the page was reloaded');
		check(navigations === 0, `${navigations} navigations`);
		await noMarkupRan(page);
		await shot(page, 'tasks');
		await page.close();
	});

	await testCase('task page: status, spec and message with markup shown as text, updated live', async () => {
		const page = await newPage();
		await page.goto(`${ADMIN}/#/task/${NS}/live-1`);
		await page.waitForFunction(() => document.querySelector('#task-phase').textContent.includes('Succeeded'), { timeout: 15000 });
		await page.waitForFunction(m => document.querySelector('main').textContent.includes(m), { timeout: 15000 }, 'done ' + MARKUP);
		const spec = await page.$eval('#spec', e => e.textContent);
		check(spec.includes(MARKUP.replace(/\//g, '\\/')) || spec.includes(MARKUP), 'the prompt in the spec: ' + spec);
		await noMarkupRan(page);
		await shot(page, 'task');
		await page.close();
	});

	await testCase('task page: the pod\'s log through the API server (kwok serves it), markup as text', async () => {
		if (process.env.LOGS !== '1') { console.log('  (skipped: the cluster is not tests/k8s/env.sh\'s)'); return; }
		// The Job a controller would make: its pod's container "agent".
		apply({ apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'run-logs', namespace: NS },
			spec: { backoffLimit: 0, template: { metadata: { labels: { 'kwok.paddock.dev/run-time': '10s' } },
				spec: { restartPolicy: 'Never', containers: [{ name: 'agent', image: 'debian:bookworm-slim' }] } } } });
		newTask('with-log');
		setStatus('with-log', { phase: 'Running', jobName: 'run-logs', runNamespace: NS });
		const page = await newPage();
		await page.goto(`${ADMIN}/#/task/${NS}/with-log`);
		await page.waitForFunction(() => document.querySelector('#log').textContent.includes('kube line 3 done'), { timeout: 30000 });
		const log = await page.$eval('#log', l => l.textContent);
		check(log.includes('kube line 1 <script>window.__pwned=3</script>'), 'the <script> line as text: ' + log);
		check(log.includes('<img src=x onerror=window.__pwned=4>'), 'the <img> line as text: ' + log);
		check(log.indexOf('kube line 1') < log.indexOf('kube line 3'), 'the order: ' + log);
		await noMarkupRan(page);
		await shot(page, 'task-log');
		await page.close();
	});

	await testCase('stop: refused without the token; with the URL\'s token the stop annotation is set as the user', async () => {
		newTask('stop-me');
		setStatus('stop-me', { phase: 'Running' });
		const page = await newPage();
		await page.goto(`${ADMIN}/#/task/${NS}/stop-me`); // no ?token=
		await page.waitForFunction(() => document.querySelector('#task-phase').textContent.includes('Running'), { timeout: 15000 });
		await page.click('#stop');
		await page.waitForSelector('#action-status[data-outcome]');
		const refused = await page.$eval('#action-status', s => [s.dataset.outcome, s.textContent]);
		check(refused[0] === 'refused' && refused[1].includes('401'), 'without token: ' + refused);
		await sleep(500);
		check(!(task('stop-me').metadata.annotations || {})['paddock.dev/stop'], 'stopped without a token');
		await page.close();
		// The URL as printed: the page keeps the token and drops it from
		// the address bar.
		const withTok = await newPage();
		await withTok.goto(ADMIN_URL + `#/task/${NS}/stop-me`);
		await withTok.waitForFunction(() => document.querySelector('#task-phase').textContent.includes('Running'), { timeout: 15000 });
		check(!withTok.url().includes('token='), 'the token stays in the address bar: ' + withTok.url());
		await withTok.click('#stop');
		await withTok.waitForSelector('#action-status[data-outcome]');
		const ok = await withTok.$eval('#action-status', s => [s.dataset.outcome, s.textContent]);
		check(ok[0] === 'ok', 'with the token: ' + ok);
		check(task('stop-me').metadata.annotations['paddock.dev/stop'] === 'true', 'no stop annotation on the Task');
		// the controller's part, played here: the page follows it
		setStatus('stop-me', { phase: 'Stopped', reason: 'Stopped' });
		await withTok.waitForFunction(() => document.querySelector('#task-phase').textContent.includes('Stopped'), { timeout: 15000 });
		await shot(withTok, 'task-stopped');
		await withTok.close();
	});

	await testCase('RBAC: a user who may only read gets the API server\'s 403, shown plainly; nothing changes', async () => {
		newTask('not-yours');
		setStatus('not-yours', { phase: 'Running' });
		const page = await newPage();
		await page.goto(VIEWER_URL + `#/task/${NS}/not-yours`);
		await page.waitForFunction(() => document.querySelector('#task-phase').textContent.includes('Running'), { timeout: 15000 });
		await page.click('#stop');
		await page.waitForSelector('#action-status[data-outcome]');
		const st = await page.$eval('#action-status', s => [s.dataset.outcome, s.textContent]);
		check(st[0] === 'refused' && st[1].includes('403') && /forbidden/i.test(st[1]) && st[1].includes('patch'),
			'the viewer\'s stop: ' + st);
		console.log('  shown: ' + st[1]);
		check(!(task('not-yours').metadata.annotations || {})['paddock.dev/stop'], 'the viewer stopped the task');
		await shot(page, 'task-forbidden');
		page.on('dialog', d => d.accept());
		await page.evaluate(() => document.querySelector('#action-status').removeAttribute('data-outcome'));
		await page.click('#delete');
		await page.waitForSelector('#action-status[data-outcome]');
		const del = await page.$eval('#action-status', s => [s.dataset.outcome, s.textContent]);
		check(del[0] === 'refused' && del[1].includes('403'), 'the viewer\'s delete: ' + del);
		task('not-yours'); // still there
		await page.close();
	});

	await testCase('delete: with the token the Task goes; an open list drops it live', async () => {
		const list = await newPage();
		await list.goto(`${ADMIN}/#/tasks`);
		await list.waitForSelector(`tr[data-key="${NS}/stop-me"]`);
		const page = await newPage();
		page.on('dialog', d => d.accept());
		await page.goto(ADMIN_URL + `#/task/${NS}/stop-me`);
		await page.waitForFunction(() => document.querySelector('#task-phase').textContent.includes('Stopped'), { timeout: 15000 });
		await page.click('#delete');
		await page.waitForSelector('#action-status[data-outcome="ok"]');
		await list.bringToFront();
		await list.waitForFunction(k => !document.querySelector(`tr[data-key="${k}"]`), { timeout: 15000 }, `${NS}/stop-me`);
		check(await list.$(`tr[data-key="${NS}/live-1"]`) !== null, 'other rows stay');
		let gone = false;
		try { kc('get', 'task', 'stop-me'); } catch { gone = true; }
		check(gone, 'the API server still has stop-me');
		await page.close();
		await list.close();
	});

	await testCase('actions from another origin are refused even with the token (CSRF)', async () => {
		const tok = ADMIN_URL.split('token=')[1];
		const res = await request(ADMIN, 'POST', `/api/task/delete?ns=${NS}&name=live-1`,
			{ 'X-Paddock-Token': tok, Origin: 'http://evil.example' });
		check(res.status === 403, 'cross-origin delete: HTTP ' + res.status);
		const rebind = await request(ADMIN, 'GET', '/api/tasks', { Host: 'attacker.example' });
		check(rebind.status === 403, 'a foreign Host (DNS rebinding): HTTP ' + rebind.status);
		task('live-1');
	});

	await testCase('Agents: the namespace\'s Agents with capacity, and its Spawners', async () => {
		apply({ apiVersion: 'paddock.dev/v1alpha1', kind: 'Agent', metadata: { name: 'bot', namespace: NS },
			spec: { type: 'exec', command: 'echo hi', maxConcurrentTasks: 2 } });
		const page = await newPage();
		await page.goto(`${ADMIN}/#/agents`);
		await page.waitForSelector('body[data-ready="agents"]');
		await page.waitForSelector(`tr[data-agent="${NS}/bot"]`, { timeout: 15000 });
		const row = await page.$eval(`tr[data-agent="${NS}/bot"]`, r => r.textContent);
		check(row.includes('/ 2'), 'capacity: ' + row);
		// A Spawner of the namespace, on the same page (live with the next change).
		apply({ apiVersion: 'paddock.dev/v1alpha1', kind: 'Spawner', metadata: { name: 'nightly', namespace: NS },
			spec: { taskTemplate: { spec: { agentRef: { name: 'bot' }, prompt: 'x' } },
				webhook: { secretRef: { name: 'hook' }, events: ['issues'] } } });
		await page.reload();
		await page.waitForSelector(`tr[data-spawner="${NS}/nightly"]`, { timeout: 15000 });
		const sp = await page.$eval(`tr[data-spawner="${NS}/nightly"]`, r => r.textContent);
		check(sp.includes('webhook issues') && sp.includes('Agent bot'), 'the Spawner: ' + sp);
		await shot(page, 'agents');
		await page.close();
	});
} finally {
	await browser.close();
}

finish();
