// The browser side of tests/browser: Playwright (playwright-core from
// src/web/node_modules) driving Debian's Chromium, axe-core for
// accessibility, screenshots under the build directory.  Scenarios
// (scenarios.mjs) get the kanrid under test from the environment:
//   KANRI_URL, KANRI_TOKEN (admin), KANRI_SHOTS (directory), KANRI_ARGS (JSON)
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, '..', '..', 'src', 'web', 'package.json'));
const { chromium } = require('playwright-core');
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

export const env = {
  url: process.env.KANRI_URL,
  token: process.env.KANRI_TOKEN,
  shots: process.env.KANRI_SHOTS || '/tmp/kanri-shots',
  args: JSON.parse(process.env.KANRI_ARGS || '{}'),
};

export async function launch() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
  return browser;
}

// A page 1366x768 (the laptop screen the dashboard must suit).  axe-core
// is injected by Playwright, past the page's Content-Security-Policy.
export async function newPage(browser, { scheme = 'light' } = {}) {
  const ctx = await browser.newContext({ viewport: { width: 1366, height: 768 }, colorScheme: scheme, bypassCSP: true });
  const page = await ctx.newPage();
  page.on('pageerror', (e) => { page.errors = (page.errors || []).concat(String(e)); });
  page.on('console', (m) => { if (m.type() === 'error') page.consoleErrors = (page.consoleErrors || []).concat(m.text()); });
  return page;
}

// The API, as a test uses it beside the browser.
export async function api(path, { method = 'GET', body, token = env.token } = {}) {
  const res = await fetch(env.url + '/api/v1' + path, {
    method, headers: { Authorization: `Bearer ${token}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}

export async function login(page, token = env.token) {
  await page.goto(env.url + '/');
  await page.getByLabel('API token').fill(token);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.locator('header.top').waitFor();
}

// Waits until the page mounted at HASH says it has loaded (main[data-ready]).
export async function open(page, hash) {
  await page.evaluate((hh) => {
    document.getElementById('main').removeAttribute('data-ready');
    if (location.hash === hh || (hh === '#/' && location.hash === '')) window.dispatchEvent(new HashChangeEvent('hashchange'));
    else location.hash = hh;
  }, hash);
  await page.locator('main[data-ready="true"]').waitFor({ timeout: 20000 });
}

export async function shot(page, name) {
  mkdirSync(env.shots, { recursive: true });
  await page.screenshot({ path: join(env.shots, `${name}.png`), fullPage: true });
}

// 0 serious or critical axe-core violations, or the assertion lists them.
export async function checkA11y(page, what) {
  if (!(await page.evaluate(() => !!window.axe))) await page.addScriptTag({ content: axeSource });
  const res = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.impact} ${v.id}: ${v.help} (${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join('; ')})`);
  });
  assert.deepEqual(res, [], `${what}: axe-core violations`);
}

export { assert };
