// The fleet: every host with its state and reconciled load against its
// capacity, the open findings and incidents, and every VM in one table.
// One request (GET /fleet) feeds it; live messages refresh it.

import { h, replace, throttle } from '../dom.js';
import { api } from '../api.js';
import { bytes, pct, num, ago, sevRank } from '../format.js';
import { dataTable } from '../table.js';
import { loadInto, sevBadge, stateBadge, sevCounts, usageBar, kindLabel } from './common.js';

export function vmColumns(showHost) {
  const cols = [
    { key: 'name', label: 'VM', value: (r) => r.name,
      render: (r) => h('a', { href: `#/vm/${encodeURIComponent(r.uuid)}` }, r.name), text: (r) => `${r.name} ${r.uuid}` },
    { key: 'kind', label: 'Kind', value: (r) => kindLabel(r.kind), render: (r) => kindLabel(r.kind) },
    showHost ? { key: 'host', label: 'Host', value: (r) => r.host } : null,
    { key: 'state', label: 'State', value: (r) => r.state, render: (r) => stateBadge(r.state) },
    { key: 'cpu', label: 'CPU demand', numeric: true, value: (r) => r.cpu_demand_pct ?? null, render: (r) => pct(r.cpu_demand_pct) },
    { key: 'mem', label: 'Memory used', numeric: true, value: (r) => r.mem_used_bytes ?? null,
      render: (r) => (r.mem_used_bytes === null || r.mem_used_bytes === undefined ? '–'
        : `${bytes(r.mem_used_bytes)} of ${bytes(r.mem_total_bytes)}`) },
    { key: 'disk', label: 'Disk used', numeric: true, value: (r) => r.disk_used_bytes ?? null, render: (r) => bytes(r.disk_used_bytes) },
    { key: 'findings', label: 'Findings', numeric: true,
      value: (r) => (r.findings_open ? 10 * (4 - sevRank(r.worst_severity)) + Math.min(r.findings_open, 9) : 0),
      render: (r) => (r.findings_open ? h('span', null, sevBadge(r.worst_severity), ` ${r.findings_open}`) : '0'),
      text: (r) => r.worst_severity || '' },
  ];
  return cols.filter(Boolean);
}

function hostsTable(hosts) {
  const rows = hosts.map((x) => {
    const cpuText = x.cpu_demand_cores === null || x.cpu_demand_cores === undefined
      ? 'unknown (no reconciled CPU yet)'
      : `${num(x.cpu_demand_cores)} of ${x.cpus} cores` + (x.cpu_demand_vms < x.vms_running ? ` (${x.cpu_demand_vms} of ${x.vms_running} VMs known)` : '');
    const memText = x.mem_used_bytes === null || x.mem_used_bytes === undefined
      ? 'unknown (no guest memory view)'
      : `${bytes(x.mem_used_bytes)} of ${bytes(x.memory_bytes)}` + (x.mem_used_vms < x.vms_running ? ` (${x.mem_used_vms} of ${x.vms_running} VMs known)` : '');
    const stale = x.state !== 'connected' && x.t ? ` — last known, ${ago(x.t)}` : '';
    const stText = x.storage_capacity_bytes
      ? `${bytes(x.storage_allocation_bytes)} of ${bytes(x.storage_capacity_bytes)}` : 'no pools';
    return h('tr', null,
      h('th', { scope: 'row' }, h('a', { href: `#/host/${encodeURIComponent(x.name)}` }, x.name)),
      h('td', null, stateBadge(x.state), x.maintenance ? [' ', stateBadge('maintenance')] : null,
        x.reason ? h('div', { class: 'reason' }, x.reason) : null),
      h('td', null, usageBar(x.cpu_demand_cores, x.cpus, cpuText + stale)),
      h('td', null, usageBar(x.mem_used_bytes, x.memory_bytes, memText + stale)),
      h('td', null, usageBar(x.storage_allocation_bytes, x.storage_capacity_bytes, stText)),
      h('td', { class: 'num' }, `${x.vms_running ?? 0} / ${x.vms_total ?? 0}`),
      h('td', null, sevCounts(x.findings_open, '#/findings')));
  });
  return h('div', { class: 'table-wrap' }, h('table', { class: 'data hosts' },
    h('caption', null, 'Hosts'),
    h('thead', null, h('tr', null,
      ['Host', 'State', 'CPU demand (busy + wait)', 'Memory used', 'Storage allocated', 'VMs running / total', 'Open findings']
        .map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', null, rows.length ? rows : h('tr', null, h('td', { colspan: 7, class: 'empty' },
      'No host is configured: add one with --connect URI or a [hypervisor] section in kanri.conf.')))));
}

export function fleetPage(main) {
  const summary = h('section', { class: 'summary', 'aria-label': 'Summary' });
  const hostsRegion = h('section', { 'aria-label': 'Hosts' });
  const vmTable = dataTable({ columns: vmColumns(true), caption: 'Virtual machines', filterLabel: 'Filter VMs', initialSort: { key: 'name', dir: 1 } });
  const stamp = h('p', { class: 'muted stamp' });
  replace(main, h('h1', null, 'Fleet'), stamp, summary, hostsRegion, h('section', { 'aria-label': 'Virtual machines' }, vmTable.el));
  let first = true;
  const ctl = new AbortController();

  function show(f) {
    const connected = f.hosts.filter((x) => x.state === 'connected').length;
    const running = f.vms.filter((v) => v.state === 'running').length;
    replace(summary,
      h('div', { class: 'card' }, h('h2', null, 'Hosts'), h('p', { class: 'big' }, `${connected} / ${f.hosts.length}`), h('p', null, 'connected')),
      h('div', { class: 'card' }, h('h2', null, 'VMs'), h('p', { class: 'big' }, `${running} / ${f.vms.length}`), h('p', null, 'running')),
      h('div', { class: 'card' }, h('h2', null, 'Open findings'), sevCounts(f.findings_open, '#/findings')),
      h('div', { class: 'card' }, h('h2', null, 'Open incidents'), sevCounts(f.incidents_open, '#/incidents')));
    replace(hostsRegion, hostsTable(f.hosts));
    vmTable.update(f.vms);
    stamp.textContent = `As of ${new Date(f.time).toLocaleTimeString()}`;
    if (first) { first = false; main.dataset.ready = 'true'; }
  }
  const load = () => loadInto(hostsRegion, () => api('/fleet', { signal: ctl.signal }), show);
  load();
  const refresh = throttle(load, 1000);
  return {
    onLive: (type) => { if (type === 'round' || type === 'event' || type === 'incident' || type === 'reset') refresh(); },
    dispose: () => ctl.abort(),
  };
}
