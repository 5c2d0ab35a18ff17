// SPDX-License-Identifier: MIT
// What the browser tests share (tests/web/dashboard.mjs, kube.mjs): the
// puppeteer-core that tests/web/install.sh put in NODE_PATH, Debian's
// chromium, test cases counted and reported, pages that record CSP
// violations, and plain HTTP requests.
import http from 'node:http';
import path from 'node:path';
import { createRequire } from 'node:module';

// ES modules ignore NODE_PATH: load puppeteer-core from the cache that
// tests/web/install.sh printed.
const puppeteer = createRequire(path.join(process.env.NODE_PATH, 'x.js'))('puppeteer-core');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
let passed = 0, failed = 0;

export function sleep(ms) { return new Promise(r => setTimeout(r, ms)); }
export function check(cond, msg) { if (!cond) throw new Error(msg); }
export async function until(what, fn, ms = 30000) {
	const end = Date.now() + ms;
	for (;;) {
		const v = await fn();
		if (v) return v;
		if (Date.now() > end) throw new Error('timed out waiting for ' + what);
		await sleep(100);
	}
}

export async function testCase(name, fn) {
	try {
		await fn();
		passed++;
		console.log(`PASS: ${name}`);
	} catch (e) {
		failed++;
		console.log(`FAIL: ${name}: ${e.stack || e}`);
	}
}

export function launch() {
	return puppeteer.launch({
		executablePath: CHROMIUM,
		headless: true,
		args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'],
	});
}

export async function newPage(browser, width = 1280, height = 900) {
	const page = await browser.newPage();
	await page.setViewport({ width, height });
	page.cspViolations = [];
	page.on('console', m => { if (/Content Security Policy/.test(m.text())) page.cspViolations.push(m.text()); });
	page.on('pageerror', e => console.log('  page error: ' + e.message));
	return page;
}

export function request(port, method, p, headers) {
	return new Promise((resolve, reject) => {
		const req = http.request({ host: '127.0.0.1', port, path: p, method, headers }, res => {
			let body = '';
			res.setEncoding('utf8');
			res.on('data', c => { body += c; });
			res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
		});
		req.on('error', reject);
		req.setTimeout(10000, () => req.destroy(new Error('timeout')));
		req.end();
	});
}

// The summary line and the exit status.
export function finish() {
	console.log(`${passed} passed, ${failed} failed`);
	process.exit(failed ? 1 : 0);
}
