// Browser scenarios: each takes a launched browser and throws on failure.
// tests/browser/test_browser.py (and tests/lab/test_lab_browser.py) start
// kanrid, the hosts and the VMs each one needs, then run it.
import { createInterface } from 'node:readline';
import { env, api, newPage, login, open, shot, checkA11y, assert } from './ui.mjs';
import { bytes, pct, num } from '../../src/web/ui/format.js';

const PAGES = [
  ['fleet', '#/'], ['findings', '#/findings'], ['incidents', '#/incidents'], ['problems', '#/problems'],
  ['changes', '#/changes'], ['audit', '#/audit'], ['policies', '#/policies'], ['decisions', '#/decisions'],
  ['machines', '#/machines'], ['agents', '#/agents'], ['ha', '#/ha'],
  ['change-requests', '#/change-requests'], ['templates', '#/templates'], ['reports', '#/reports'],
];

async function stateOf(page) {
  return (await page.locator('[data-field="state"] .state').textContent()).trim();
}

// Log in, the fleet with every host (one unreachable, said in words) and
// VM, filter and sort, search by UUID, a host, a VM; every page in both
// themes without serious accessibility violations; a screenshot of each.
export async function tour(browser) {
  const a = env.args;
  for (const scheme of ['light', 'dark']) {
    const page = await newPage(browser, { scheme });
    await page.goto(env.url + '/');
    await page.getByLabel('API token').waitFor();
    await checkA11y(page, `log-in (${scheme})`);
    await shot(page, `login-${scheme}`);
    await login(page);
    await page.locator('main[data-ready="true"]').waitFor();
    for (const [name, hash] of PAGES) {
      await open(page, hash);
      await checkA11y(page, `${name} (${scheme})`);
      await shot(page, `${name}-${scheme}`);
    }
    await open(page, `#/host/${encodeURIComponent(a.host)}`);
    await checkA11y(page, `host (${scheme})`);
    await shot(page, `host-${scheme}`);
    await open(page, `#/vm/${a.vm_uuid}`);
    await page.locator('figure.chart').first().waitFor();
    await checkA11y(page, `vm (${scheme})`);
    await shot(page, `vm-${scheme}`);
    // The server whose kanri-guestd pushed documents, with its charts.
    await open(page, `#/machine/${a.machine_uuid}`);
    await page.locator('figure.chart').first().waitFor();
    await checkA11y(page, `machine (${scheme})`);
    await shot(page, `machine-${scheme}`);
    // One incident, from the list.
    await open(page, '#/incidents');
    await page.locator('main[data-ready="true"] tbody a[href^="#/incidents/"]').first().click();
    await page.locator('main[data-ready="true"] h2', { hasText: 'Preceding changes' }).waitFor();
    await checkA11y(page, `incident (${scheme})`);
    await shot(page, `incident-${scheme}`);
    await open(page, `#/search/${a.vm_uuid.slice(0, 13)}`);
    await checkA11y(page, `search (${scheme})`);
    await shot(page, `search-${scheme}`);
    assert.deepEqual(page.errors || [], [], 'no script error on any page');
    await page.context().close();
  }

  const page = await newPage(browser);
  await login(page);
  await page.locator('main[data-ready="true"]').waitFor();
  // The keyboard: the first Tab reaches the skip link, which moves focus
  // to the content; a column header sorts with Enter.
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Skip to content');
  await page.keyboard.press('Enter');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'main');
  // Hosts: each configured one, the unreachable one with its reason.
  const hostRows = page.locator('table.hosts tbody tr');
  assert.equal(await hostRows.count(), a.hosts.length);
  const down = page.locator('table.hosts tbody tr', { hasText: a.unreachable });
  assert.match(await down.textContent(), /unreachable/);
  assert.ok((await down.locator('.reason').textContent()).trim().length > 10, 'the reason is said in words');
  // Every VM, then a filter, then a sort.
  const vmCount = page.locator('section[aria-label="Virtual machines"] .count');
  assert.equal((await vmCount.textContent()).trim(), String(a.n_vms));
  await page.getByLabel('Filter VMs').fill(a.vm);
  await page.waitForFunction((n) => document.querySelectorAll('section[aria-label="Virtual machines"] tbody tr').length === n, 1);
  assert.match(await page.locator('section[aria-label="Virtual machines"] .count').textContent(), new RegExp(`^1 of ${a.n_vms}$`));
  await page.getByLabel('Filter VMs').fill('');
  await page.getByRole('button', { name: /^VM/ }).click(); // name ascending (the initial sort) -> descending
  const firstName = await page.locator('section[aria-label="Virtual machines"] tbody tr:first-child td:first-child').textContent();
  assert.equal(firstName, [...a.vm_names].sort((x, y) => y.localeCompare(x, undefined, { numeric: true }))[0]);
  const hostHeader = page.locator('section[aria-label="Virtual machines"] th', { hasText: /^Host/ });
  await hostHeader.locator('button').focus();
  await page.keyboard.press('Enter');
  assert.equal(await hostHeader.getAttribute('aria-sort'), 'ascending');
  await page.getByRole('button', { name: /^VM/ }).focus();
  await page.keyboard.press('Enter'); // back to the name, ascending
  // Search by part of a UUID, then follow the result to the VM.
  await page.getByLabel('Search the fleet').fill(a.vm_uuid.slice(0, 13));
  await page.getByRole('button', { name: 'Search' }).click();
  await page.locator('main[data-ready="true"] ul.results a', { hasText: a.vm }).click();
  await page.locator('main[data-ready="true"] [data-field="state"]').waitFor();
  assert.equal(await stateOf(page), 'running');
  await page.locator('figure.chart[data-resource="cpu_demand"]').waitFor();
  assert.equal(await page.locator('figure.chart').count(), 11, 'one chart per resource');
  await page.context().close();
}

// A host with VMs and a system container (an lxc-type domain): the fleet's
// and the host's VM tables have a Kind column, filtered and sorted like the
// others; the container's page says "Container"; both pages pass axe.
export async function kinds(browser) {
  const a = env.args;
  const page = await newPage(browser);
  await login(page);
  await page.locator('main[data-ready="true"]').waitFor();
  const table = 'section[aria-label="Virtual machines"]';
  const rows = page.locator(`${table} tbody tr`);
  assert.equal(await rows.count(), a.n_vms);
  const kindHeader = page.locator(`${table} th`, { hasText: /^Kind/ });
  assert.equal(await kindHeader.count(), 1, 'a Kind column');
  const kindCol = await page.locator(`${table} thead th`).evaluateAll((ths) => ths.findIndex((t) => /^Kind/.test(t.textContent)));
  const kindOf = async (name) => (await page.locator(`${table} tbody tr`, { hasText: name }).locator('td').nth(kindCol).textContent()).trim();
  assert.equal(await kindOf(a.container), 'Container');
  assert.equal(await kindOf(a.vm), 'VM');
  // Filtered by kind, as by any column.
  await page.getByLabel('Filter VMs').fill('container');
  await page.waitForFunction(([sel, n]) => document.querySelectorAll(`${sel} tbody tr`).length === n, [table, 1]);
  assert.match(await rows.first().textContent(), new RegExp(a.container));
  await page.getByLabel('Filter VMs').fill('');
  await page.waitForFunction(([sel, n]) => document.querySelectorAll(`${sel} tbody tr`).length === n, [table, a.n_vms]);
  // Sorted by kind: "Container" before "VM", then the other way.
  await kindHeader.locator('button').click();
  assert.equal(await kindHeader.getAttribute('aria-sort'), 'ascending');
  assert.match(await rows.first().textContent(), new RegExp(a.container));
  await kindHeader.locator('button').click();
  assert.equal(await kindHeader.getAttribute('aria-sort'), 'descending');
  assert.match(await rows.last().textContent(), new RegExp(a.container));
  await checkA11y(page, 'fleet with a container');
  await shot(page, 'fleet-kinds');
  // The host page's VM table has it too.
  await open(page, `#/host/${encodeURIComponent(a.host)}`);
  const hostKind = page.locator(`${table} th`, { hasText: /^Kind/ });
  await hostKind.waitFor();
  await page.locator(`${table} tbody tr`, { hasText: a.container }).waitFor();
  assert.match(await page.locator(`${table} tbody tr`, { hasText: a.container }).textContent(), /Container/);
  // The container's page: "Container" in its heading and facts.
  await open(page, `#/vm/${a.container_uuid}`);
  await page.locator('main[data-ready="true"] [data-field="kind"]').waitFor();
  assert.equal((await page.locator('main h1').textContent()).trim(), `Container ${a.container}`);
  assert.match(await page.locator('[data-field="kind"]').textContent(), /^Container/);
  await checkA11y(page, 'container page');
  await shot(page, 'vm-container');
  // A VM's page still says VM.
  await open(page, `#/vm/${a.vm_uuid}`);
  await page.locator('main[data-ready="true"] [data-field="kind"]').waitFor();
  assert.equal((await page.locator('main h1').textContent()).trim(), `VM ${a.vm}`);
  assert.deepEqual(page.errors || [], [], 'no script error');
  await page.context().close();
}

// A VM suspended through the API shows "paused" on an open page without a
// reload; resumed with the page's own button (confirmed) it shows running.
export async function live(browser) {
  const a = env.args;
  const page = await newPage(browser);
  await login(page);
  await open(page, `#/vm/${a.vm_uuid}`);
  await page.locator('.live-state[data-state="live"]').waitFor();
  assert.equal(await stateOf(page), 'running');
  const t0 = Date.now();
  const r = await api(`/vms/${a.vm_uuid}/actions/suspend`, { method: 'POST', body: {} });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  await page.locator('[data-field="state"] .state', { hasText: 'paused' }).waitFor({ timeout: 15000 });
  console.log(`suspend seen by the page ${Date.now() - t0} ms after the API call`);
  await shot(page, 'vm-paused');
  await page.getByRole('button', { name: 'Resume' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Resume' }).click();
  await page.locator('[data-field="state"] .state', { hasText: 'running' }).waitFor({ timeout: 15000 });
  // The audit trail on the page has the resume, by this token.
  await page.locator('section[aria-label="Audit trail"] td', { hasText: 'resume' }).first().waitFor();
  await page.context().close();
}

// A viewer sees everything and can act on nothing: no action buttons, no
// enrolment form; kanrid refuses the action anyway.
export async function viewer(browser) {
  const a = env.args;
  const made = await api('/tokens', { method: 'POST', body: { name: `ui-viewer-${Date.now()}`, role: 'viewer' } });
  assert.equal(made.status, 201);
  const page = await newPage(browser);
  await login(page, made.json.token);
  await open(page, `#/vm/${a.vm_uuid}`);
  await page.getByText('actions need an operator token').waitFor();
  for (const name of ['Suspend', 'Shut down', 'Force off', 'Set memory…', 'Migrate…']) {
    assert.equal(await page.getByRole('button', { name }).count(), 0, `no ${name} button for a viewer`);
  }
  await open(page, '#/agents');
  assert.equal(await page.getByRole('button', { name: 'Enrol' }).count(), 0);
  const r = await api(`/vms/${a.vm_uuid}/actions/suspend`, { method: 'POST', body: {}, token: made.json.token });
  assert.equal(r.status, 403);
  await page.context().close();
}

// A token revoked while its page is open sends the user back to log in,
// saying why; an operator enrolling an agent sees its token once.
export async function revoked(browser) {
  const made = await api('/tokens', { method: 'POST', body: { name: `ui-op-${Date.now()}`, role: 'operator' } });
  assert.equal(made.status, 201);
  const page = await newPage(browser);
  await login(page, made.json.token);
  await open(page, '#/agents');
  await page.getByLabel('Machine').fill(env.args.vm);
  await page.getByRole('button', { name: 'Enrol' }).click();
  const tok = page.getByLabel('Agent token');
  await tok.waitFor();
  assert.match(await tok.inputValue(), /^kanri_/);
  await page.getByText('Shown once').waitFor();
  await shot(page, 'agents-enrolled');
  // An operator acknowledges an incident, with a comment, in the log.
  await open(page, '#/incidents');
  await page.locator('main[data-ready="true"] tbody a[href^="#/incidents/"]').first().click();
  await page.getByRole('button', { name: 'Acknowledge…' }).click();
  await page.getByLabel('Comment (optional)').fill('looking at it');
  await page.getByRole('dialog').getByRole('button', { name: 'Acknowledge' }).click();
  await page.locator('main li', { hasText: 'looking at it' }).waitFor();
  assert.match(await page.locator('main dd .state').textContent(), /acknowledged/);
  assert.equal((await api(`/tokens/${made.json.id}`, { method: 'DELETE' })).status, 204);
  await page.getByRole('link', { name: 'Findings' }).click();
  await page.getByLabel('API token').waitFor({ timeout: 20000 });
  await page.getByText(/revoked/).waitFor();
  await shot(page, 'login-revoked');
  await page.context().close();
}

// An admin sets the memory policy to recommend (confirmed) and the page
// says so; a dry run over the last hour is summed up in words; the
// decisions list renders; host args.host goes into maintenance with its
// button (confirmed, with a reason), shows the badge and the plan, and
// leaves it again.
export async function policies(browser) {
  const a = env.args;
  const page = await newPage(browser);
  await login(page);
  await open(page, '#/policies');
  const mem = page.locator('section[data-policy="memory"]');
  await mem.getByLabel('Mode of the memory policy').selectOption('recommend');
  await mem.getByRole('button', { name: 'Change mode…' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Change mode' }).click();
  await mem.locator('[data-field="mode"]', { hasText: /^recommend$/ }).waitFor({ timeout: 15000 });
  await page.locator('main [role="status"]', { hasText: 'memory policy is now in recommend mode' }).waitFor();
  assert.equal(await mem.getByLabel('Mode of the memory policy').inputValue(), 'recommend');
  // The dry run, over the last hour.
  await page.getByLabel('Policy', { exact: true }).selectOption('memory');
  await page.getByLabel('From', { exact: true }).fill('1h');
  await page.getByRole('button', { name: 'Run dry run' }).click();
  const summary = page.locator('.sim-summary', { hasText: /round/ });
  await summary.waitFor({ timeout: 30000 });
  assert.match(await summary.textContent(), /(the memory policy would have taken \d+ actions?|no recorded round)/);
  await checkA11y(page, 'policies after a dry run');
  await shot(page, 'policies-dry-run');
  // The decisions: none with an action on the test driver (it reports no
  // free host memory), so the list says so; with the decisions to do
  // nothing, the one saying why is there, and opens to its inputs.
  await open(page, '#/decisions');
  await page.locator('table.decisions td.empty').waitFor();
  await page.getByLabel('Action', { exact: true }).selectOption('any');
  await page.getByRole('button', { name: 'Show' }).click();
  const row = page.locator('table.decisions tbody tr', { hasText: 'free-memory figure' }).first();
  await row.waitFor({ timeout: 15000 });
  const expand = row.locator('button.expand');
  await expand.click();
  assert.equal(await expand.getAttribute('aria-expanded'), 'true');
  const detail = page.locator('table.decisions tr.detail:not([hidden]) .decision-detail').first();
  await detail.waitFor();
  assert.match(await detail.textContent(), /host-view-missing/);
  await checkA11y(page, 'decisions');
  await shot(page, 'decisions-expanded');
  // Maintenance from the host's page, in and out.
  await open(page, `#/host/${encodeURIComponent(a.host)}`);
  const badge = page.locator('[data-field="maintenance"] .state', { hasText: 'maintenance' });
  assert.equal(await badge.count(), 0, `${a.host} is not in maintenance yet`);
  await page.getByRole('button', { name: 'Enter maintenance…' }).click();
  await page.getByRole('dialog').getByLabel('Reason (optional)').fill('browser test');
  await page.getByRole('dialog').getByRole('button', { name: 'Enter maintenance' }).click();
  await badge.waitFor({ timeout: 15000 });
  await page.locator('main [role="status"]', { hasText: `${a.host} is in maintenance` }).waitFor();
  await checkA11y(page, 'host in maintenance');
  await shot(page, 'host-maintenance');
  await page.getByRole('button', { name: 'Leave maintenance…' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Leave maintenance' }).click();
  await page.locator('[data-field="maintenance"]', { hasText: /^no$/ }).waitFor({ timeout: 15000 });
  await page.getByRole('button', { name: 'Enter maintenance…' }).waitFor();
  assert.deepEqual(page.errors || [], [], 'no script error');
  await page.context().close();
}

const cellText = async (row, i) => (await row.locator('td').nth(i).textContent()).trim();

// Machines (args: a server MACHINE_UUID named MACHINE with HOSTNAME that
// pushed two documents of AGENT_VERSION, and VM VM_UUID with one): the
// list has the server with kind server and its figures as the API gives
// them, and the VM with kind vm linked to its page; the server's page has
// its filesystems and charts with points, the VM's a CPU chart that says
// it has no figure (a rate needs two documents); the agents page links to
// the machine's page; once the server stops pushing, the open list marks
// it silent.
export async function machines(browser) {
  const a = env.args;
  const r = await api(`/machines/${a.machine_uuid}`);
  assert.equal(r.status, 200, JSON.stringify(r.json));
  const m = r.json.machine;
  const x = m.latest;
  assert.ok(x && x.cpu_busy_pct !== null, `two documents give a CPU figure: ${JSON.stringify(x)}`);
  const page = await newPage(browser);
  await login(page);
  await open(page, '#/machines');
  const rowOf = (uuid) => page.locator('main tbody tr').filter({ has: page.locator(`a[href="#/machine/${uuid}"]`) });
  const row = rowOf(a.machine_uuid);
  await row.waitFor();
  // Machine, kind, hostname, agent version, last contact, CPU, memory, load, filesystems.
  assert.equal(await cellText(row, 0), a.machine);
  assert.equal(await cellText(row, 1), 'server');
  assert.equal(await cellText(row, 2), a.hostname);
  assert.equal(await cellText(row, 3), a.agent_version);
  assert.equal(await row.locator('[data-field="silent"]').count(), 0, 'not silent yet');
  assert.equal(await cellText(row, 5), pct(x.cpu_busy_pct));
  assert.match(await cellText(row, 5), /^\d+\.\d %$/);
  assert.equal(await cellText(row, 6), `${bytes(x.mem_total_bytes - x.mem_available_bytes)} of ${bytes(x.mem_total_bytes)}`);
  assert.equal(await cellText(row, 7), num(x.load1, 2));
  assert.equal(await cellText(row, 8), `${bytes(x.fs_used_bytes)} of ${bytes(x.fs_total_bytes)}`);
  const vmRow = rowOf(a.vm_uuid);
  assert.match(await cellText(vmRow, 1), /^vm /);
  assert.equal((await vmRow.locator(`a[href="#/vm/${a.vm_uuid}"]`).textContent()).trim(), a.vm);
  await checkA11y(page, 'machines');
  await shot(page, 'machines');

  // The server's page: its facts, filesystems and history.
  await row.locator(`a[href="#/machine/${a.machine_uuid}"]`).click();
  await page.locator('main[data-ready="true"] [data-field="hostname"]', { hasText: a.hostname }).waitFor();
  assert.match(await page.locator('main h1').textContent(), new RegExp(a.machine));
  assert.ok(m.filesystems && m.filesystems.length, 'the API lists its filesystems');
  const paths = await page.locator('table.filesystems tbody tr th').allTextContents();
  assert.deepEqual(paths.map((t) => t.trim()), m.filesystems.map((f) => f.path));
  assert.equal(await page.locator('[data-field="cpu"]').textContent(), pct(x.cpu_busy_pct));
  for (const [metric, least] of [['cpu', 1], ['memory', 2], ['load', 2], ['filesystem', 2]]) {
    const fig = page.locator(`figure.chart[data-metric="${metric}"]`);
    await fig.waitFor();
    const counts = await fig.evaluate((f) => f.counts);
    assert.ok(counts[0] >= least, `${metric}: at least ${least} points, got ${counts}`);
    await fig.scrollIntoViewIfNeeded();
    await page.locator(`figure.chart[data-metric="${metric}"][data-drawn="true"] canvas`).waitFor();
    assert.equal(await fig.locator('.chart-empty').count(), 0, `${metric} has figures`);
  }
  await checkA11y(page, 'machine');
  await shot(page, 'machine');

  // The VM's machine page: one document, so no CPU figure yet, said in words.
  await open(page, `#/machine/${a.vm_uuid}`);
  const cpu = page.locator('figure.chart[data-metric="cpu"]');
  await cpu.waitFor();
  assert.match(await cpu.locator('figcaption').textContent(), /no figure in this range/);
  assert.ok((await page.locator('figure.chart[data-metric="memory"]').evaluate((f) => f.counts))[0] >= 1);
  assert.equal((await page.locator(`main a[href="#/vm/${a.vm_uuid}"]`).first().textContent()).trim(), a.vm);

  // The agents page links each agent to its machine.
  await open(page, '#/agents');
  await page.locator(`main tbody a[href="#/machine/${a.machine_uuid}"]`).click();
  await page.locator('main[data-ready="true"] table.filesystems').waitFor();

  // Silent: the open list says so once the server stops pushing.
  await open(page, '#/machines');
  await row.locator('[data-field="silent"]').waitFor({ timeout: 90000 });
  await checkA11y(page, 'machines, a machine silent');
  await shot(page, 'machines-silent');
  assert.deepEqual(page.errors || [], [], 'no script error');
  await page.context().close();
}

// The row of the HA page's table TABLE (ha-hosts or ha-vms) for KEY (a
// host's name, a VM's UUID).
function haRow(page, table, key) {
  return page.locator(table === 'ha-hosts' ? `table.ha-hosts tr[data-host="${key}"]` : `table.ha-vms tr[data-uuid="${key}"]`);
}

async function haVm(uuid) {
  const r = await api('/ha');
  assert.equal(r.status, 200, JSON.stringify(r.json));
  return r.json.vms.find((v) => v.uuid === uuid) || null;
}

async function fieldText(row, field) {
  return (await row.locator(`[data-field="${field}"]`).textContent()).trim();
}

// The High availability page: HA on, its settings and group; both hosts
// up with their signals; the HA VM of kanri.conf with its settings.  An
// admin edits a VM's settings (the API's refusal shown beside the form,
// then accepted: the API reports them), resets them to kanri.conf's, makes
// another VM an HA VM and resets it; the VM and host pages say the same;
// a viewer sees all of it and no control.
export async function ha(browser) {
  const a = env.args;
  const page = await newPage(browser);
  await login(page);
  await open(page, '#/ha');
  assert.match(await page.locator('[data-field="enabled"]').textContent(), /^on .*kill switch/);
  assert.match(await page.locator('[data-field="settings"]').textContent(), /detect_after/);
  assert.equal((await page.locator('[data-field="groups"]').textContent()).trim(), 'front: a, b');
  // Both hosts up (the page refreshes itself: a host still connecting at
  // start-up is suspect for a moment).
  for (const host of a.hosts) {
    await haRow(page, 'ha-hosts', host).locator('[data-ha-state="up"]').waitFor({ timeout: 20000 });
  }
  assert.equal(await page.locator('table.ha-hosts tbody tr').count(), a.hosts.length);
  const hostA = haRow(page, 'ha-hosts', a.hosts[0]);
  assert.equal(await hostA.locator('.state').getAttribute('class'), 'state ha-ok');
  assert.equal(await fieldText(hostA, 'connection'), 'up');
  assert.match(await fieldText(hostA, 'probe'), /^no answer\s*exec \/bin\/false — \/bin\/false: exit 1/);
  assert.equal(await fieldText(haRow(page, 'ha-hosts', a.hosts[1]), 'probe'), 'no probe configured');
  assert.equal(await fieldText(hostA, 'guests'), 'none reports directly');
  assert.equal(await fieldText(hostA, 'fence'), 'none configured');
  assert.equal(await page.getByRole('button', { name: /^Confirm off/ }).count(), 0, 'no host to confirm off');
  // The HA VM of kanri.conf.
  const row = haRow(page, 'ha-vms', a.vm_uuid);
  assert.equal(await row.locator('th a').getAttribute('href'), `#/vm/${a.vm_uuid}`);
  assert.equal((await row.locator('th a').textContent()).trim(), a.vm);
  assert.equal(await fieldText(row, 'ha'), 'on');
  assert.equal(await fieldText(row, 'priority'), '10');
  assert.equal(await fieldText(row, 'restart'), 'elsewhere');
  assert.equal(await fieldText(row, 'group'), 'any host');
  assert.equal(await fieldText(row, 'source'), 'kanri.conf');
  assert.equal(await fieldText(row, 'recovery'), 'none');
  assert.match(await row.textContent(), new RegExp(a.hosts[0]));
  assert.equal(await page.locator('table.ha-vms tbody tr[data-uuid]').count(), 1, 'one HA VM');
  await checkA11y(page, 'ha');
  await shot(page, 'ha');

  // Edit: a priority out of range is refused by the API, in its words.
  await page.getByRole('button', { name: `Edit HA settings of ${a.vm}` }).click();
  const form = page.locator('table.ha-vms tr.detail form');
  await form.waitFor();
  assert.equal(await form.getByLabel('HA on').isChecked(), true);
  assert.equal(await form.getByLabel('Priority').inputValue(), '10');
  await form.getByLabel('Priority').fill('5000');
  await form.getByRole('button', { name: 'Save' }).click();
  await form.locator('.error-text', { hasText: 'priority: a whole number from -1000 to 1000' }).waitFor();
  await checkA11y(page, 'ha, editing a VM');
  await shot(page, 'ha-edit-refused');
  assert.equal((await haVm(a.vm_uuid)).source, 'kanri.conf', 'nothing set by the refused edit');
  // Then accepted.
  await form.getByLabel('Priority').fill('20');
  await form.getByLabel('Restart').selectOption('in-place');
  await form.getByLabel('Group').selectOption('front');
  await form.getByRole('button', { name: 'Save' }).click();
  await row.locator('[data-field="source"]', { hasText: 'API' }).waitFor();
  assert.equal(await form.count(), 0, 'the form is closed');
  assert.equal(await fieldText(row, 'priority'), '20');
  assert.equal(await fieldText(row, 'restart'), 'in-place');
  assert.equal(await fieldText(row, 'group'), 'front (a, b)');
  await page.locator('main [role="status"]', { hasText: `${a.vm}: HA on, set over the API: priority 20, restart in-place, group front.` }).waitFor();
  let v = await haVm(a.vm_uuid);
  assert.deepEqual([v.ha, v.priority, v.restart, v.group, v.source], [true, 20, 'in-place', 'front', 'api']);
  // Reset to kanri.conf's (confirmed).
  await page.getByRole('button', { name: `Reset to kanri.conf (${a.vm})` }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Reset to kanri.conf' }).click();
  await row.locator('[data-field="source"]', { hasText: 'kanri.conf' }).waitFor();
  assert.equal(await fieldText(row, 'priority'), '10');
  assert.equal(await page.getByRole('button', { name: `Reset to kanri.conf (${a.vm})` }).count(), 0);
  v = await haVm(a.vm_uuid);
  assert.deepEqual([v.ha, v.priority, v.restart, v.group, v.source], [true, 10, 'elsewhere', null, 'kanri.conf']);

  // Another VM made an HA VM, then reset: not an HA VM any more.
  const add = page.locator('form[aria-label="HA settings of another VM"]');
  await add.getByLabel('VM (name or UUID)').fill('no-such-vm');
  await add.getByRole('button', { name: 'Set' }).click();
  await add.locator('.error-text', { hasText: /no-such-vm/ }).waitFor();
  await add.getByLabel('VM (name or UUID)').fill(a.other);
  await add.getByLabel('Priority').fill('5');
  await add.getByRole('button', { name: 'Set' }).click();
  const other = haRow(page, 'ha-vms', a.other_uuid);
  await other.waitFor();
  assert.equal(await fieldText(other, 'source'), 'API');
  assert.equal(await fieldText(other, 'priority'), '5');
  v = await haVm(a.other_uuid);
  assert.deepEqual([v.ha, v.priority, v.restart, v.group, v.source], [true, 5, 'elsewhere', null, 'api']);
  await page.getByRole('button', { name: `Reset to kanri.conf (${a.other})` }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Reset to kanri.conf' }).click();
  await other.waitFor({ state: 'detached' });
  await page.locator('main [role="status"]', { hasText: `${a.other}: no HA settings in kanri.conf` }).waitFor();
  assert.equal(await haVm(a.other_uuid), null);

  // The VM's page and its host's page.
  await open(page, `#/vm/${a.vm_uuid}`);
  const haBox = page.locator('section[data-section="ha"]');
  await haBox.locator('[data-field="ha"]', { hasText: /^yes/ }).waitFor();
  assert.equal(await fieldText(haBox, 'ha-priority'), '10 (higher is restarted first)');
  assert.equal(await fieldText(haBox, 'ha-group'), 'any host');
  assert.equal(await haBox.locator('a[href="#/ha"]').count(), 1);
  await open(page, `#/vm/${a.other_uuid}`);
  await haBox.locator('[data-field="ha"]', { hasText: /^Not an HA VM/ }).waitFor();
  await open(page, `#/host/${a.hosts[0]}`);
  await page.locator('[data-field="ha"] [data-ha-state="up"]').waitFor();
  assert.deepEqual(page.errors || [], [], 'no script error');
  await page.context().close();

  // A viewer: everything, and no control.
  const made = await api('/tokens', { method: 'POST', body: { name: `ui-ha-viewer-${Date.now()}`, role: 'viewer' } });
  assert.equal(made.status, 201);
  const vpage = await newPage(browser);
  await login(vpage, made.json.token);
  await open(vpage, '#/ha');
  await haRow(vpage, 'ha-vms', a.vm_uuid).waitFor();
  assert.equal(await vpage.locator('table.ha-hosts tbody tr').count(), a.hosts.length);
  for (const name of [/^Edit/, /^Reset/, /^Confirm off/, /^Set$/, /^Save$/]) {
    assert.equal(await vpage.getByRole('button', { name }).count(), 0, `no ${name} button for a viewer`);
  }
  assert.equal(await vpage.locator('main form, main input, main select').count(), 0, 'no form for a viewer');
  const r = await api(`/vms/${a.vm_uuid}/ha`, { method: 'PUT', body: { ha: false }, token: made.json.token });
  assert.equal(r.status, 403);
  await checkA11y(vpage, 'ha (viewer)');
  await vpage.context().close();
}

// A host declared dead with no fence agent (fence-failed): the HA page
// says so in red with the reason; an operator cannot confirm it is off; an
// admin does, with a comment, after a dialog warning of two copies.
export async function haFenced(browser) {
  const a = env.args;
  const made = await api('/tokens', { method: 'POST', body: { name: `ui-ha-op-${Date.now()}`, role: 'operator' } });
  assert.equal(made.status, 201);
  const op = await newPage(browser);
  await login(op, made.json.token);
  await open(op, '#/ha');
  await haRow(op, 'ha-hosts', a.host).locator('[data-ha-state="fence-failed"]').waitFor({ timeout: 20000 });
  assert.equal(await op.getByRole('button', { name: /^Confirm off/ }).count(), 0, 'only an admin confirms a host is off');
  assert.ok(await op.getByRole('button', { name: /^Edit/ }).count() > 0, 'an operator edits VMs\u2019 settings');
  await op.context().close();

  const page = await newPage(browser);
  await login(page);
  await open(page, '#/ha');
  const row = haRow(page, 'ha-hosts', a.host);
  await row.locator('[data-ha-state="fence-failed"]').waitFor({ timeout: 20000 });
  assert.equal(await row.locator('.state').getAttribute('class'), 'state ha-critical');
  assert.match(await fieldText(row, 'reason'), /no fence agent is configured/);
  assert.match(await fieldText(row, 'connection'), /^lost since/);
  assert.match(await fieldText(row, 'probe'), /^no answer/);
  await checkA11y(page, 'ha, a host fence-failed');
  await shot(page, 'ha-fence-failed');
  await page.getByRole('button', { name: `Confirm off… (${a.host})` }).click();
  const dlg = page.getByRole('dialog');
  assert.match(await dlg.textContent(), /two copies of a VM may run at once/);
  await dlg.getByLabel('Comment').fill(a.comment);
  await checkA11y(page, 'ha, confirming a host off');
  await dlg.getByRole('button', { name: `${a.host} is off: restart its VMs` }).click();
  await page.locator('main [role="status"]', { hasText: `${a.host} counts as fenced` }).waitFor();
  await row.locator('[data-ha-state="fence-failed"]').waitFor({ state: 'detached', timeout: 20000 });
  // Its VMs restarted elsewhere: the newest recovery says where.
  const vm = haRow(page, 'ha-vms', a.vm_uuid);
  await vm.locator('[data-field="recovery"]', { hasText: `${a.host} \u2192 ` }).waitFor({ timeout: 20000 });
  await shot(page, 'ha-confirmed-off');
  assert.deepEqual(page.errors || [], [], 'no script error');
  await page.context().close();
}

// Tells the test driving this scenario to do WHAT (a line on stdout) and
// waits until it answers DONE on stdin.
async function waitFor(what, done) {
  console.log(what);
  const rl = createInterface({ input: process.stdin });
  for await (const line of rl) if (line.trim() === done) break;
  rl.close();
}

// kanrid stopped under an open page: the page says so in words.
export async function down(browser) {
  const page = await newPage(browser);
  await login(page);
  await open(page, '#/findings');
  await waitFor('STOP-KANRID', 'stopped');
  await page.getByRole('link', { name: 'Changes' }).click();
  await page.locator('.banner', { hasText: 'kanrid does not answer' }).waitFor({ timeout: 20000 });
  await page.locator('main .error', { hasText: 'kanrid does not answer' }).waitFor();
  await page.locator('.live-state[data-state="down"]').waitFor({ timeout: 20000 });
  await shot(page, 'kanrid-down');
  await page.context().close();
}

// A real guest (tests/lab): its VM page draws H, G and R of a resource
// with points on one time axis.
export async function labGuest(browser) {
  const a = env.args;
  const page = await newPage(browser);
  await login(page);
  await open(page, `#/vm/${a.vm_uuid}`);
  const fig = page.locator(`figure.chart[data-resource="${a.resource}"]`);
  await fig.waitFor();
  const counts = await fig.evaluate((f) => f.counts);
  assert.equal(counts.length, 3);
  assert.ok(counts.every((n) => n > 0), `H, G and R of ${a.resource} all have points: ${counts}`);
  // A live update may redraw the chart meanwhile (the element is then a
  // new one): the locator finds the new one on the next try.
  for (let i = 0; ; i++) {
    try {
      await fig.scrollIntoViewIfNeeded();
      break;
    } catch (e) {
      if (i === 4 || !/not attached/.test(e.message)) throw e;
      await fig.waitFor();
    }
  }
  const legend = await fig.locator('.u-legend').textContent();
  for (const l of ['H host view', 'G guest view', 'R reconciled']) assert.ok(legend.includes(l), l);
  await checkA11y(page, 'vm (lab guest)');
  await shot(page, 'vm-lab-guest');
  // Suspended behind kanri's back (virsh): the open page shows it.
  await page.locator('.live-state[data-state="live"]').waitFor();
  await waitFor('SUSPEND-GUEST', 'suspended');
  await page.locator('[data-field="state"] .state', { hasText: 'paused' }).waitFor({ timeout: 15000 });
  await page.context().close();
}

// A container's page (domain type lxc; here one of libvirt's test driver):
// Freeze and Thaw instead of Suspend and Resume, none of the VM-only
// controls, and a Limits form whose confirmed values are posted as
// set-limits (which a libvirt host refuses: the page says so).  A viewer
// gets no Limits form.
export async function container(browser) {
  const a = env.args;
  const page = await newPage(browser);
  await login(page);
  await open(page, `#/vm/${a.ct_uuid}`);
  await page.getByRole('heading', { level: 1, name: /^Container / }).waitFor();
  await page.getByRole('button', { name: 'Freeze' }).waitFor();
  for (const name of ['Suspend', 'Set vCPUs…', 'Set memory…', 'Migrate…']) {
    assert.equal(await page.getByRole('button', { name }).count(), 0, `no ${name} button for a container`);
  }
  await page.getByRole('button', { name: 'Freeze' }).click();
  await page.getByRole('dialog').getByText('freezes its processes').waitFor();
  await page.getByRole('dialog').getByRole('button', { name: 'Freeze' }).click();
  await page.locator('[data-field="state"] .state', { hasText: 'paused' }).waitFor({ timeout: 15000 });
  await page.getByRole('button', { name: 'Thaw' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Thaw' }).click();
  await page.locator('[data-field="state"] .state', { hasText: 'running' }).waitFor({ timeout: 15000 });

  await page.getByRole('button', { name: 'Limits…' }).click();
  const dlg = page.getByRole('dialog');
  await dlg.getByLabel('CPU (cores)').fill('0.55555');
  await dlg.getByRole('button', { name: 'Set limits' }).click();
  await dlg.getByText('at most 3 decimals').waitFor();
  await dlg.getByLabel('Memory (MiB)').fill('256');
  await dlg.getByLabel('CPU (cores)').fill('0.5');
  await dlg.getByLabel('Processes').fill('0');
  await checkA11y(page, 'container limits dialog');
  await shot(page, 'container-limits');
  const posted = page.waitForRequest((r) => r.method() === 'POST' && r.url().endsWith('/actions/set-limits'));
  await dlg.getByRole('button', { name: 'Set limits' }).click();
  const req = await posted;
  assert.deepEqual(JSON.parse(req.postData()), { memory_bytes: 256 * 1048576, cpu_millicores: 500, pids: 0 });
  await page.locator('.action-status', { hasText: 'set-limits failed' }).waitFor();
  await checkA11y(page, 'container page');
  await shot(page, 'container');

  const made = await api('/tokens', { method: 'POST', body: { name: `ui-ct-viewer-${Date.now()}`, role: 'viewer' } });
  assert.equal(made.status, 201);
  const vpage = await newPage(browser);
  await login(vpage, made.json.token);
  await open(vpage, `#/vm/${a.ct_uuid}`);
  await vpage.getByText('actions need an operator token').waitFor();
  assert.equal(await vpage.getByRole('button', { name: 'Limits…' }).count(), 0);
  await vpage.context().close();
  await page.context().close();
}

// Change requests and templates: a request drafted and submitted over the
// API is listed; its page offers the steps its state allows; its requester
// (admin) is refused the approval in words; an operator approves it, and
// the page follows it until kanrid has run it; the templates page lists a
// template.  Both pages pass axe.
export async function changeRequests(browser) {
  const a = env.args;
  const made = await api('/change-requests', { method: 'POST', body: {
    vm: a.vm, reason: 'ui: more memory', risk: 'low', actions: [{ action: 'setmem', memory: '256M' }] } });
  assert.equal(made.status, 201, JSON.stringify(made.json));
  const id = made.json.id;
  assert.equal((await api(`/change-requests/${id}/submit`, { method: 'POST', body: {} })).status, 200);

  const page = await newPage(browser);
  await login(page);
  await open(page, '#/change-requests');
  const row = page.locator('main[data-ready="true"] tbody tr', { hasText: 'ui: more memory' });
  await row.waitFor();
  assert.match(await row.textContent(), /submitted/);
  assert.match(await row.textContent(), /setmem memory_bytes=268435456/);
  await row.locator(`a[href="#/change-requests/${id}"]`).click();
  await page.getByRole('heading', { level: 1, name: `Change request #${id}` }).waitFor();
  for (const name of ['Approve', 'Reject', 'Cancel']) await page.getByRole('button', { name }).waitFor();
  assert.equal(await page.getByRole('button', { name: 'Submit' }).count(), 0, 'no Submit for a submitted request');
  await checkA11y(page, 'change request');
  await shot(page, 'change-request');
  await page.getByRole('button', { name: 'Approve' }).click();
  await page.getByRole('alert').getByText('another token than its requester').waitFor();

  const op = await api('/tokens', { method: 'POST', body: { name: `ui-approver-${Date.now()}`, role: 'operator' } });
  assert.equal(op.status, 201);
  const opage = await newPage(browser);
  await login(opage, op.json.token);
  await open(opage, `#/change-requests/${id}`);
  await opage.getByRole('button', { name: 'Approve' }).click();
  await opage.getByText(`Request #${id} is approved.`).waitFor();
  await opage.locator('dd[data-state="done"]').waitFor({ timeout: 30000 });
  const vmRow = opage.locator('main tbody tr', { hasText: a.vm });
  assert.match(await vmRow.textContent(), /done/);
  assert.match(await vmRow.textContent(), /checks passed/);
  assert.equal(await opage.getByRole('button', { name: 'Approve' }).count(), 0, 'a finished request takes no step');
  await opage.context().close();

  await open(page, '#/templates');
  const trow = page.locator('main[data-ready="true"] tbody tr', { hasText: a.template });
  await trow.waitFor();
  assert.match(await trow.textContent(), /bare/, 'the VM it was made from');
  await checkA11y(page, 'templates');
  assert.deepEqual(page.errors || [], [], 'no script error');
  await page.context().close();
}

async function hostRowText(page) {
  return page.locator('main table:has(caption:text("Capacity per host")) tbody tr', { hasText: 'alpha' }).textContent();
}

// The reports page: availability per VM with kanri's own stop as planned
// down time and its cause, a group with an SLO, capacity per host, and the
// printable report opened from it.
export async function reports(browser) {
  const a = env.args;
  const stopped = a.vm_names.find((n) => n.startsWith('alpha-') && n !== a.vm);
  assert.equal((await api(`/vms/${stopped}/tags`, { method: 'PUT', body: { tags: ['ui-shop'] } })).status, 200);
  assert.equal((await api(`/vms/${stopped}/actions/destroy`, { method: 'POST', body: {} })).status, 200);
  // The round that sees it down has marked it.
  for (let i = 0; ; i++) {
    const r = await api(`/reports/availability?from=1h&vm=${stopped}`);
    if (r.json.outages.length > 0) break;
    assert.ok(i < 300, 'the outage in the report within 30 s');
    await new Promise((res) => setTimeout(res, 100));
  }

  const page = await newPage(browser);
  await login(page);
  await open(page, '#/reports');
  const vmRow = page.locator('main[data-ready="true"] table:has(caption:text("Availability per VM")) tbody tr', { hasText: stopped });
  await vmRow.waitFor();
  const outRow = page.locator('main[data-ready="true"] table:has(caption:text("Outages")) tbody tr', { hasText: stopped });
  await outRow.waitFor();
  assert.match(await outRow.textContent(), /destroy by admin/);
  assert.match(await outRow.textContent(), /yes/, 'planned: kanri stopped it');
  assert.match(await hostRowText(page), /cpu|memory|disk/, 'what limits the host');
  const hostRow = page.locator('main[data-ready="true"] table:has(caption:text("Capacity per host")) tbody tr', { hasText: 'alpha' });
  await hostRow.waitFor();
  await checkA11y(page, 'reports');
  await shot(page, 'reports');

  // One group, judged by a target.
  await page.getByLabel('Group').fill('ui-shop');
  await page.getByLabel('SLO %').fill('99.9');
  await page.getByRole('button', { name: 'Show' }).click();
  await page.locator('main[data-ready="true"] [data-slo]').waitFor();
  const rows = page.locator('main table:has(caption:text("Availability per VM")) tbody tr');
  assert.equal(await rows.count(), 1, 'only the group\'s VM');
  assert.match(await rows.first().textContent(), new RegExp(stopped));
  assert.match(await page.locator('[data-slo]').textContent(), /SLO 99\.900 %/);

  // The printable report opens in a new tab, made by the API.
  const [popup] = await Promise.all([
    page.context().waitForEvent('page'),
    page.getByRole('button', { name: 'Printable report' }).click(),
  ]);
  await popup.waitForLoadState();
  await popup.getByRole('heading', { level: 1, name: 'Availability' }).waitFor();
  assert.match(await popup.content(), /<svg/);
  assert.deepEqual(page.errors || [], [], 'no script error');
  await page.context().close();
}
