// Machines: everything that runs kanri-guestd and pushes its own figures —
// physical servers no hypervisor knows (kind "server") and VMs kanri also
// manages (kind "vm").  The list (GET /machines) and one machine's page
// (GET /machines/{ref}, its filesystems, and its guest-view history from
// GET /machines/{ref}/metrics drawn as the VM page draws its charts).
// Every figure here is the machine's own (its guest view); a VM's own page
// sets it against the host view.

import { h, replace, throttle } from '../dom.js';
import { api } from '../api.js';
import { bytes, pct, num, time, ago } from '../format.js';
import { hgrChart, chartWidth, columns, disposeCharts } from '../chart.js';
import { loadInto, usageBar, rangeButtons, RANGES, RANGE_S } from './common.js';
import { listPage } from './lists.js';

const enc = encodeURIComponent;

// Pushes from a server make no live message of their own (only an agent
// falling silent or being heard again does), so the pages also look again
// every so often.
const POLL_MS = 15000;

const known = (v) => v !== null && v !== undefined;

// Memory in use: all but what the kernel says it could give back.
export function memUsed(x) {
  return x && known(x.mem_total_bytes) && known(x.mem_available_bytes)
    ? x.mem_total_bytes - x.mem_available_bytes : null;
}

export function kindBadge(m) {
  return h('span', { class: `state kind-${m.kind === 'vm' ? 'vm' : 'server'}`, 'data-field': 'kind' }, m.kind);
}

// The kind, and for a VM kanri manages, links to it and to its host.
function kindCell(m) {
  if (m.kind !== 'vm') return kindBadge(m);
  return h('span', null, kindBadge(m), ' ',
    h('a', { href: `#/vm/${enc(m.uuid)}` }, m.vm || m.uuid),
    m.host ? [' on ', h('a', { href: `#/host/${enc(m.host)}` }, m.host)] : null);
}

function silentBadge() {
  return h('span', { class: 'sev sev-warning', 'data-field': 'silent' }, 'silent');
}

function contactCell(m) {
  return h('span', null, m.last_contact ? time(m.last_contact) : 'never',
    m.silent ? [' ', silentBadge()] : null);
}

function usedOf(used, total) {
  return known(used) && known(total) ? `${bytes(used)} of ${bytes(total)}` : '–';
}

function usageCell(used, total) {
  return known(used) && known(total) ? usageBar(used, total, usedOf(used, total)) : '–';
}

export function machinesPage(main) {
  const page = listPage(main, {
    title: 'Machines', key: 'machines', path: '/machines',
    intro: 'Every machine whose kanri-guestd reports to kanrid: physical servers no hypervisor knows (server) '
      + 'and VMs kanri also manages (vm). The figures are the machine\u2019s own, from its newest document.',
    wants: (t, d) => t === 'event' && String(d.kind || '').startsWith('agent.'),
    initialSort: { key: 'name', dir: 1 },
    columns: [
      { key: 'name', label: 'Machine', value: (r) => r.name || r.uuid, text: (r) => `${r.name || ''} ${r.uuid}`,
        render: (r) => h('a', { href: `#/machine/${enc(r.uuid)}` }, r.name || r.uuid) },
      { key: 'kind', label: 'Kind', value: (r) => r.kind, text: (r) => `${r.kind} ${r.vm || ''} ${r.host || ''}`, render: kindCell },
      { key: 'hostname', label: 'Hostname', value: (r) => r.hostname },
      { key: 'agent_version', label: 'Agent version', value: (r) => r.agent_version },
      { key: 'contact', label: 'Last contact', value: (r) => r.last_contact,
        text: (r) => `${r.last_contact || 'never'}${r.silent ? ' silent' : ''}`, render: contactCell },
      { key: 'cpu', label: 'CPU busy', numeric: true, value: (r) => r.latest?.cpu_busy_pct ?? null,
        render: (r) => pct(r.latest?.cpu_busy_pct) },
      { key: 'mem', label: 'Memory used', numeric: true, value: (r) => memUsed(r.latest),
        render: (r) => usageCell(memUsed(r.latest), r.latest?.mem_total_bytes) },
      { key: 'load', label: 'Load (1 min)', numeric: true, value: (r) => r.latest?.load1 ?? null,
        render: (r) => num(r.latest?.load1, 2) },
      { key: 'fs', label: 'Filesystems used', numeric: true, value: (r) => r.latest?.fs_used_bytes ?? null,
        render: (r) => usageCell(r.latest?.fs_used_bytes, r.latest?.fs_total_bytes) },
    ],
  });
  const timer = setInterval(() => page.onLive('reset'), POLL_MS);
  return {
    onLive: page.onLive,
    dispose: () => { clearInterval(timer); page.dispose(); },
  };
}

// Busy is all but idle and I/O wait, as the API's cpu_busy_pct counts it.
const CPU_BUSY = ['cpu_user_ns', 'cpu_nice_ns', 'cpu_system_ns', 'cpu_irq_ns', 'cpu_softirq_ns', 'cpu_steal_ns'];
export const MACHINE_METRICS = [...CPU_BUSY, 'cpu_idle_ns', 'cpu_iowait_ns', 'mem_total', 'mem_available',
  'load1_milli', 'load5_milli', 'load15_milli', 'fs_total', 'fs_used'];

// The machine's history (the columns of a format=columns reply) as chart
// series: CPU busy and I/O wait in % of all its CPUs (from the time
// rates), memory used (total - available) and total, load averages, and
// the filesystems' used and total space.  A time without a figure stays a
// gap, never made up.
export function machineSeries(cols) {
  const busyParts = CPU_BUSY.map((n) => cols.get(n));
  const idle = cols.get('cpu_idle_ns'); const iowait = cols.get('cpu_iowait_ns');
  const total = cols.get('mem_total'); const avail = cols.get('mem_available');
  const milli = (n) => cols.get(n).map((v) => (known(v) ? v / 1000 : null));
  const busy = []; const wait = []; const used = [];
  for (let i = 0; i < cols.x.length; i++) {
    const b = busyParts.reduce((sum, s) => sum + (s[i] || 0), 0);
    const all = b + (idle[i] || 0) + (iowait[i] || 0);
    const cpuKnown = known(idle[i]) && all > 0;
    busy.push(cpuKnown ? (100 * b) / all : null);
    wait.push(cpuKnown ? (100 * (iowait[i] || 0)) / all : null);
    used.push(known(total[i]) && known(avail[i]) ? total[i] - avail[i] : null);
  }
  return {
    busy, wait, used, total,
    load1: milli('load1_milli'), load5: milli('load5_milli'), load15: milli('load15_milli'),
    fsUsed: cols.get('fs_used'), fsTotal: cols.get('fs_total'),
  };
}

function filesystemsTable(list) {
  if (!list || !list.length) return h('p', { 'data-field': 'filesystems' }, 'No filesystem reported: the machine\u2019s documents list none.');
  return h('div', { class: 'table-wrap' }, h('table', { class: 'data filesystems' },
    h('caption', null, 'Filesystems, as the machine reports them'),
    h('thead', null, h('tr', null, ['Mount point', 'Type', 'Used', 'Available', 'Size'].map((t, i) =>
      h('th', { scope: 'col', class: i >= 3 ? 'num' : null }, t)))),
    h('tbody', null, list.map((f) => h('tr', { 'data-path': f.path },
      h('th', { scope: 'row', class: 'mono' }, f.path),
      h('td', null, f.type || '–'),
      h('td', null, usageCell(f.used_bytes, f.total_bytes)),
      h('td', { class: 'num' }, bytes(f.avail_bytes)),
      h('td', { class: 'num' }, bytes(f.total_bytes)))))));
}

export function machinePage(main, ref) {
  const ctl = new AbortController();
  const opt = { signal: ctl.signal };
  const title = h('h1', null, 'Machine ', h('span', { class: 'mono' }, ref));
  const head = h('section', { 'aria-label': 'Machine' });
  const now = h('section', { 'aria-label': 'Newest figures' });
  const fsBox = h('section', { 'aria-label': 'Filesystems' });
  const rangeBox = h('div');
  const charts = h('section', { class: 'charts', 'aria-label': 'History' });
  replace(main, title, head,
    h('h2', null, 'Newest figures'), now,
    h('h2', null, 'Filesystems'), fsBox,
    h('h2', null, 'History'),
    h('p', { class: 'muted' }, 'What the machine reported (its guest view), averaged over the range\u2019s steps; a gap is a time it said nothing.'),
    rangeBox, charts);
  let range = '1h';

  function showHead(m) {
    title.replaceChildren('Machine ', h('span', { class: 'mono' }, m.name || m.uuid));
    document.title = `${m.name || m.uuid} — kanri`;
    replace(head, h('dl', { class: 'facts' },
      h('dt', null, 'Kind'), h('dd', null, kindCell(m),
        m.kind === 'vm' ? ' (a VM kanri manages: its page has the host view beside this one)' : ' (no hypervisor kanri watches knows it)'),
      h('dt', null, 'UUID'), h('dd', { class: 'mono' }, m.uuid),
      h('dt', null, 'Hostname'), h('dd', { 'data-field': 'hostname' }, m.hostname || '–'),
      h('dt', null, 'Agent'), h('dd', { 'data-field': 'agent' }, m.agent_version ? `kanri-guestd ${m.agent_version}` : 'not heard from yet'),
      h('dt', null, 'Last contact'), h('dd', { 'data-field': 'contact' },
        m.last_contact ? `${time(m.last_contact)} (${ago(m.last_contact)})` : 'never',
        m.silent ? [' ', silentBadge(), ' it has not pushed a document for longer than kanrid expects'] : null)));
    const x = m.latest;
    if (!x) {
      replace(now, h('p', { 'data-field': 'latest' }, 'No document yet: nothing to show until its kanri-guestd pushes one.'));
    } else {
      replace(now, h('dl', { class: 'facts', 'data-field': 'latest' },
        h('dt', null, 'As of'), h('dd', null, `${time(x.time)} (${ago(x.time)})`),
        h('dt', null, 'CPU busy'), h('dd', { 'data-field': 'cpu' }, known(x.cpu_busy_pct) ? pct(x.cpu_busy_pct) : '– (it needs two documents in a row)'),
        h('dt', null, 'Memory used'), h('dd', { 'data-field': 'mem' }, usageCell(memUsed(x), x.mem_total_bytes)),
        h('dt', null, 'Swap used'), h('dd', null, bytes(x.swap_used_bytes)),
        h('dt', null, 'Load (1 min)'), h('dd', { 'data-field': 'load' }, num(x.load1, 2)),
        h('dt', null, 'Filesystems used'), h('dd', { 'data-field': 'fs' }, usageCell(x.fs_used_bytes, x.fs_total_bytes))));
    }
    replace(fsBox, filesystemsTable(m.filesystems));
  }

  function loadCharts() {
    replace(rangeBox, rangeButtons(RANGES, range, (r) => { range = r; loadCharts(); }));
    const to = Math.floor(Date.now() / 1000);
    const from = to - RANGE_S[range];
    return loadInto(charts, () => api(`/machines/${enc(ref)}/metrics?metric=${MACHINE_METRICS.join(',')}&format=columns&from=${range}`, opt), (m) => {
      const cols = columns(m);
      const s = machineSeries(cols);
      const width = chartWidth(charts);
      const guest = { stroke: 'var(--c-g)', width: 2 };
      const chart = (key, args) => {
        const fig = hgrChart({ from, to, width, x: cols.x, ...args });
        fig.dataset.metric = key;
        return fig;
      };
      disposeCharts(charts);
      replace(charts,
        chart('cpu', { title: 'CPU (all its CPUs)', unit: '%', series: [
          { label: 'busy', values: s.busy, ...guest },
          { label: 'I/O wait', values: s.wait, stroke: 'var(--c-h)', dash: [4, 3] }] }),
        chart('memory', { title: 'Memory', unit: 'B', series: [
          { label: 'used (total \u2212 available)', values: s.used, ...guest },
          { label: 'total', values: s.total, stroke: 'var(--c-h)', dash: [6, 4] }] }),
        chart('load', { title: 'Load average', unit: 'load', series: [
          { label: '1 min', values: s.load1, ...guest },
          { label: '5 min', values: s.load5, stroke: 'var(--c-h)', dash: [6, 4] },
          { label: '15 min', values: s.load15, stroke: 'var(--c-r)', dash: [2, 3] }] }),
        chart('filesystem', { title: 'Filesystems (all of them)', unit: 'B', series: [
          { label: 'used', values: s.fsUsed, ...guest },
          { label: 'size', values: s.fsTotal, stroke: 'var(--c-h)', dash: [6, 4] }] }));
      charts.dataset.range = range;
    });
  }

  const loadHead = () => loadInto(head, () => api(`/machines/${enc(ref)}`, opt), (d) => {
    showHead(d.machine);
    main.dataset.ready = 'true';
  });
  loadHead();
  loadCharts();
  const refreshHead = throttle(loadHead, 1000);
  const refreshCharts = throttle(() => { if (range === '1h') loadCharts(); }, 30000);
  const timer = setInterval(() => { refreshHead(); refreshCharts(); }, POLL_MS);
  return {
    onLive: (type, d) => {
      if (type === 'reset' || (type === 'event' && String(d.kind || '').startsWith('agent.'))) refreshHead();
    },
    dispose: () => { clearInterval(timer); ctl.abort(); disposeCharts(charts); },
  };
}
