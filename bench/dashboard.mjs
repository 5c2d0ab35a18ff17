// SPDX-License-Identifier: MIT
// The task list's first meaningful paint (the table drawn from the first
// snapshot: the page's performance mark "paddock-tasks-painted", from the
// start of navigation) in headless Chromium, against the dashboards that
// core/dashboard_bench serves (PORT_EMPTY, PORT_FULL): median of ROUNDS
// fresh page loads each, and the ratio.
import path from 'node:path';
import { createRequire } from 'node:module';

const puppeteer = createRequire(path.join(process.env.NODE_PATH, 'x.js'))('puppeteer-core');
const ROUNDS = Number(process.env.ROUNDS || 9);
const browser = await puppeteer.launch({
	executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true,
	args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'],
});
async function paint(port) {
	const page = await browser.newPage();
	await page.setViewport({ width: 1280, height: 900 });
	await page.goto(`http://127.0.0.1:${port}/#/tasks`);
	await page.waitForSelector('body[data-ready="tasks"]', { timeout: 60000 });
	const [ms, rows] = await page.evaluate(() => [performance.getEntriesByName('paddock-tasks-painted')[0].startTime,
		document.querySelector('#tasks-count').textContent]);
	await page.close();
	return { ms, rows };
}
const median = a => a.slice().sort((x, y) => x - y)[Math.floor(a.length / 2)];
const res = {};
for (const [name, port] of [['empty', process.env.PORT_EMPTY], ['full', process.env.PORT_FULL]]) {
	await paint(port); // warm-up: browser start, caches
	const ms = [];
	let rows = '';
	for (let i = 0; i < ROUNDS; i++) {
		const p = await paint(port);
		ms.push(p.ms);
		rows = p.rows;
	}
	res[name] = { median: median(ms), rows };
}
await browser.close();
console.log(`dashboard task list, first meaningful paint (median of ${ROUNDS} loads, headless Chromium):`);
console.log(`  empty store      ${res.empty.median.toFixed(1)} ms`);
console.log(`  1000 tasks       ${res.full.median.toFixed(1)} ms   (${res.full.rows})`);
console.log(`  ratio 1000/empty: ${(res.full.median / res.empty.median).toFixed(2)}x`);
