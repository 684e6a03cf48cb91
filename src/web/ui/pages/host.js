// One host: what it is, its VMs (the fleet's table, for this host), pools,
// networks, and its utilisation over 1 h to 90 d from the history tiers.

import { h, replace, throttle } from '../dom.js';
import { api } from '../api.js';
import { bytes, time } from '../format.js';
import { dataTable } from '../table.js';
import { hgrChart, chartWidth } from '../chart.js';
import { loadInto, stateBadge, sevCounts, rangeButtons, RANGES, RANGE_S } from './common.js';
import { vmColumns } from './fleet.js';

const enc = encodeURIComponent;

// Host CPU and memory over the range, as shares and bytes the chart draws.
export function hostSeries(m) {
  const src = (m.sources && m.sources[0]) || { series: [] };
  const by = Object.fromEntries(src.series.map((s) => [s.metric, s.points]));
  const pointsAt = (name) => new Map((by[name] || []).map((p) => [p.t, p.v]));
  const user = pointsAt('cpu_user_ns'); const kern = pointsAt('cpu_kernel_ns');
  const idle = pointsAt('cpu_idle_ns'); const wait = pointsAt('cpu_iowait_ns');
  const busy = []; const iowait = [];
  for (const [t, u] of user) {
    const k = kern.get(t); const i = idle.get(t); const w = wait.get(t) ?? 0;
    if (u === null || k === null || i === null || k === undefined || i === undefined) continue;
    const all = u + k + i + w;
    if (all > 0) { busy.push({ t, v: (100 * (u + k)) / all }); iowait.push({ t, v: (100 * w) / all }); }
  }
  const total = pointsAt('mem_total'); const free = pointsAt('mem_free');
  const buffers = pointsAt('mem_buffers'); const cached = pointsAt('mem_cached');
  const used = [];
  for (const [t, tot] of total) {
    const f = free.get(t);
    if (tot === null || f === null || f === undefined) continue;
    used.push({ t, v: tot - f - (buffers.get(t) || 0) - (cached.get(t) || 0) });
  }
  return { busy, iowait, used, total: [...total].map(([t, v]) => ({ t, v })) };
}

export function hostPage(main, name) {
  const head = h('section', { 'aria-label': 'Host' });
  const charts = h('section', { class: 'charts', 'aria-label': 'Utilisation' });
  const pools = h('section', { 'aria-label': 'Storage pools' });
  const nets = h('section', { 'aria-label': 'Networks' });
  const vmTable = dataTable({ columns: vmColumns(false), caption: 'Virtual machines on this host', filterLabel: 'Filter VMs', initialSort: { key: 'name', dir: 1 } });
  let range = '1h';
  const rangeBox = h('div');
  replace(main, h('h1', null, 'Host ', h('span', { class: 'mono' }, name)), head,
    h('h2', null, 'Utilisation'), rangeBox, charts,
    h('section', { 'aria-label': 'Virtual machines' }, vmTable.el),
    h('h2', null, 'Storage pools'), pools, h('h2', null, 'Networks'), nets);
  const ctl = new AbortController();
  const opt = { signal: ctl.signal };

  const loadHead = () => loadInto(head, () => Promise.all([api(`/hosts/${enc(name)}`, opt), api(`/fleet?host=${enc(name)}`, opt)]), ([x, f]) => {
    const sum = f.hosts[0] || {};
    replace(head, h('dl', { class: 'facts' },
      h('dt', null, 'State'), h('dd', null, stateBadge(x.state), x.reason ? ` — ${x.reason}` : ''),
      h('dt', null, 'URI'), h('dd', { class: 'mono' }, x.uri),
      h('dt', null, 'Hypervisor'), h('dd', null, `${x.driver || '–'} ${x.hv_version || ''} (libvirt ${x.libvirt_version || '–'})`),
      h('dt', null, 'CPUs'), h('dd', null, `${x.cpus ?? '–'} × ${x.cpu_model || '?'} at ${x.mhz ?? '?'} MHz, ${x.numa_cells ?? '?'} NUMA cells`),
      h('dt', null, 'Memory'), h('dd', null, bytes(x.memory_bytes)),
      h('dt', null, 'Inventory synced'), h('dd', null, time(x.inventory_synced_at)),
      h('dt', null, 'Last seen'), h('dd', null, time(x.last_seen)),
      h('dt', null, 'Open findings'), h('dd', null, sevCounts(sum.findings_open, '#/findings'))));
    vmTable.update(f.vms);
    main.dataset.ready = 'true';
  });

  const loadCharts = () => {
    replace(rangeBox, rangeButtons(RANGES, range, (r) => { range = r; loadCharts(); }));
    const to = Math.floor(Date.now() / 1000);
    const from = to - RANGE_S[range];
    return loadInto(charts, () => api(`/hosts/${enc(name)}/metrics?metric=cpu_user_ns,cpu_kernel_ns,cpu_idle_ns,cpu_iowait_ns,mem_total,mem_free,mem_buffers,mem_cached&from=${range}`, opt), (m) => {
      const s = hostSeries(m);
      const w = chartWidth(charts);
      replace(charts,
        hgrChart({ title: 'CPU (host, all cores)', unit: '%', from, to, width: w, series: [
          { label: 'busy', points: s.busy, stroke: 'var(--c-r)', width: 2 },
          { label: 'I/O wait', points: s.iowait, stroke: 'var(--c-g)', dash: [4, 3] }] }),
        hgrChart({ title: 'Memory (host)', unit: 'B', from, to, width: w, series: [
          { label: 'used (no caches)', points: s.used, stroke: 'var(--c-r)', width: 2 },
          { label: 'total', points: s.total, stroke: 'var(--c-h)', dash: [6, 4] }] }));
    });
  };

  loadInto(pools, () => api(`/pools?host=${enc(name)}`, opt), (p) => {
    const t = dataTable({ caption: 'Storage pools', filterLabel: 'Filter pools', columns: [
      { key: 'name', label: 'Pool', value: (r) => r.name },
      { key: 'state', label: 'State', value: (r) => r.state },
      { key: 'path', label: 'Path', value: (r) => r.target_path },
      { key: 'alloc', label: 'Allocated', numeric: true, value: (r) => r.allocation_bytes, render: (r) => bytes(r.allocation_bytes) },
      { key: 'cap', label: 'Capacity', numeric: true, value: (r) => r.capacity_bytes, render: (r) => bytes(r.capacity_bytes) },
      { key: 'avail', label: 'Available', numeric: true, value: (r) => r.available_bytes, render: (r) => bytes(r.available_bytes) }] });
    replace(pools, t.el);
    t.update(p.pools);
  });
  loadInto(nets, () => api(`/networks?host=${enc(name)}`, opt), (n) => {
    const t = dataTable({ caption: 'Networks', filterLabel: 'Filter networks', columns: [
      { key: 'name', label: 'Network', value: (r) => r.name },
      { key: 'active', label: 'Active', value: (r) => (r.active ? 'yes' : 'no') },
      { key: 'bridge', label: 'Bridge', value: (r) => r.bridge },
      { key: 'uuid', label: 'UUID', value: (r) => r.uuid }] });
    replace(nets, t.el);
    t.update(n.networks);
  });
  loadHead();
  loadCharts();
  const refresh = throttle(loadHead, 1000);
  return {
    onLive: (type, d) => {
      if (type === 'reset' || (type === 'round' && d.host === name) || (type === 'event' && (d.host === name || d.item === `host:${name}`))) refresh();
    },
    dispose: () => ctl.abort(),
  };
}
