// Reports (docs/reports.md): availability over a period — per VM time up,
// unresponsive, planned and unplanned down, unknown; the outages with their
// causes; the SLO's budget — and capacity per host: demand against
// capacity, how many more VMs fit, when each resource runs out.  The
// printable page and the CSV are the API's own (format=html|csv).

import { h, replace } from '../dom.js';
import { api, apiBlob } from '../api.js';
import { time, pct, bytes } from '../format.js';
import { dataTable } from '../table.js';
import { loadInto, errorBox } from './common.js';

const enc = encodeURIComponent;

function secs(s) {
  if (s == null) return '';
  if (s < 120) return `${Math.round(s)} s`;
  if (s < 7200) return `${(s / 60).toFixed(1)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

function ratio(v) {
  return v == null ? '–' : pct(v * 100, 3);
}

function runsOut(f) {
  if (!f) return '';
  if (!f.exhausted) return f.method === 'none' ? 'no forecast' : 'not within the horizon';
  return f.exhausted.at ? time(f.exhausted.at) : `maybe from ${time(f.exhausted.earliest)}`;
}

// Opens the API's FORMAT of PATH: HTML in a new tab, CSV as a download.
async function openAs(path, format, out, name) {
  try {
    const blob = await apiBlob(`${path}&format=${format}`);
    const url = URL.createObjectURL(blob);
    if (format === 'html') {
      window.open(url, '_blank', 'noopener');
    } else {
      const a = h('a', { href: url, download: name });
      document.body.appendChild(a);
      a.click();
      a.remove();
    }
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  } catch (x) {
    replace(out, errorBox(x));
  }
}

const VM_COLUMNS = [
  { key: 'name', label: 'VM', value: (v) => v.name,
    render: (v) => h('a', { href: `#/vm/${enc(v.uuid)}` }, v.name) },
  { key: 'host', label: 'Host', value: (v) => v.host },
  { key: 'availability', label: 'Availability', numeric: true, value: (v) => v.totals.availability ?? -1,
    render: (v) => ratio(v.totals.availability) },
  { key: 'up', label: 'Up', numeric: true, value: (v) => v.totals.up_s + v.totals.host_only_s,
    render: (v) => secs(v.totals.up_s + v.totals.host_only_s) },
  { key: 'unresponsive', label: 'Unresponsive', numeric: true, value: (v) => v.totals.unresponsive_s,
    render: (v) => secs(v.totals.unresponsive_s) },
  { key: 'planned', label: 'Planned down', numeric: true, value: (v) => v.totals.planned_down_s,
    render: (v) => secs(v.totals.planned_down_s) },
  { key: 'unplanned', label: 'Unplanned down', numeric: true, value: (v) => v.totals.unplanned_down_s,
    render: (v) => secs(v.totals.unplanned_down_s) },
  { key: 'unknown', label: 'Unknown', numeric: true, value: (v) => v.totals.unknown_s,
    render: (v) => secs(v.totals.unknown_s) },
  { key: 'note', label: 'Note', value: (v) => v.caveat || '', render: (v) => v.caveat || '' },
];

const OUTAGE_COLUMNS = [
  { key: 'vm', label: 'VM', value: (o) => o.vm },
  { key: 'kind', label: 'Kind', value: (o) => o.kind },
  { key: 'start', label: 'Start', value: (o) => o.start, render: (o) => `${time(o.start)}${o.began_before ? ' (before)' : ''}` },
  { key: 'end', label: 'End', value: (o) => o.end, render: (o) => `${time(o.end)}${o.open ? ' (open)' : ''}` },
  { key: 'duration', label: 'Duration', numeric: true, value: (o) => o.duration_s, render: (o) => secs(o.duration_s) },
  { key: 'planned', label: 'Planned', value: (o) => (o.planned ? 'yes' : 'no'), render: (o) => (o.planned ? 'yes' : 'no') },
  { key: 'cause', label: 'Cause', value: (o) => o.cause || '', render: (o) => o.cause || '' },
];

const HOST_COLUMNS = [
  { key: 'name', label: 'Host', value: (x) => x.name,
    render: (x) => h('a', { href: `#/host/${enc(x.name)}` }, x.name) },
  { key: 'cpu', label: 'CPU demand / cores', numeric: true, value: (x) => x.demand.cpu_cores_used,
    render: (x) => `${(x.demand.cpu_cores_used ?? 0).toFixed(2)} / ${x.capacity.cpus}` },
  { key: 'memory', label: 'Memory used / total', numeric: true, value: (x) => x.demand.memory_bytes_used,
    render: (x) => `${bytes(x.demand.memory_bytes_used)} / ${bytes(x.capacity.memory_bytes)}` },
  { key: 'fits', label: 'More VMs that fit', numeric: true, value: (x) => x.fits.n,
    render: (x) => (x.fits.n < 0 ? 'any' : String(x.fits.n)) },
  { key: 'limited', label: 'Limited by', value: (x) => x.fits.limited_by, render: (x) => x.fits.limited_by },
  { key: 'cpu_out', label: 'CPU runs out', value: (x) => runsOut(x.forecasts.cpu), render: (x) => runsOut(x.forecasts.cpu) },
  { key: 'mem_out', label: 'Memory runs out', value: (x) => runsOut(x.forecasts.memory), render: (x) => runsOut(x.forecasts.memory) },
  { key: 'forecast', label: 'Memory forecast', value: (x) => x.forecasts.memory.verdict, render: (x) => x.forecasts.memory.verdict },
];

export function reportsPage(main) {
  const ctl = new AbortController();
  const period = h('select', { id: 'rep-period', name: 'period' },
    [['1d', 'last day'], ['7d', 'last 7 days'], ['30d', 'last 30 days'], ['90d', 'last 90 days']]
      .map(([v, l]) => h('option', { value: v, selected: v === '30d' ? true : null }, l)));
  const group = h('input', { id: 'rep-group', name: 'group', placeholder: 'a tag', autocomplete: 'off' });
  const slo = h('input', { id: 'rep-slo', name: 'slo', inputmode: 'decimal', placeholder: '99.9', size: 6 });
  const out = h('div', { role: 'status', 'aria-live': 'polite' });
  const avail = h('section', { 'aria-label': 'Availability' });
  const cap = h('section', { 'aria-label': 'Capacity' });
  const vms = dataTable({ columns: VM_COLUMNS, caption: 'Availability per VM', initialSort: { key: 'availability', dir: 1 } });
  const outages = dataTable({ columns: OUTAGE_COLUMNS, caption: 'Outages', initialSort: { key: 'start', dir: -1 },
    empty: 'No outage in the period.' });
  const hosts = dataTable({ columns: HOST_COLUMNS, caption: 'Capacity per host', initialSort: { key: 'name', dir: 1 } });
  const form = h('form', {
    class: 'controls',
    onsubmit: (e) => { e.preventDefault(); load(); },
  },
  h('label', { for: 'rep-period' }, 'Period'), period,
  h('label', { for: 'rep-group' }, 'Group'), group,
  h('label', { for: 'rep-slo' }, 'SLO %'), slo,
  h('button', { type: 'submit', class: 'primary' }, 'Show'));
  replace(main, h('h1', null, 'Reports'),
    h('p', { class: 'muted' }, 'Availability from the states kanri recorded each round (unknown when it was not watching, never up), and capacity from the reconciled demand with forecasts backtested against naive baselines.'),
    form, out, h('h2', null, 'Availability'), avail, h('h2', null, 'Capacity'), cap);

  function availPath() {
    let p = `/reports/availability?from=${enc(period.value)}`;
    if (group.value.trim()) p += `&group=${enc(group.value.trim())}`;
    if (slo.value.trim()) p += `&slo=${enc(slo.value.trim())}`;
    return p;
  }
  function capPath() {
    let p = '/reports/capacity?history=90d';
    if (group.value.trim()) p += `&group=${enc(group.value.trim())}`;
    return p;
  }
  function showAvail(r) {
    const t = r.totals;
    const sloLine = r.slo
      ? h('p', { class: r.slo.met ? null : 'error-text', 'data-slo': r.slo.met ? 'met' : 'missed' },
        `SLO ${pct(r.slo.target * 100, 3)}: ${r.slo.met ? 'met' : 'missed'}; error budget ${secs(r.slo.budget_s)}, `
        + `${r.slo.budget_used == null ? '–' : pct(r.slo.budget_used * 100, 1)} used, burn rate ${r.slo.burn_rate == null ? '–' : r.slo.burn_rate.toFixed(2)}.`)
      : null;
    replace(avail,
      h('p', { 'data-availability': t.availability ?? '' },
        `${r.vms.length} VMs from ${time(r.from)} to ${time(r.to)}${r.group ? `, group ${r.group}` : ''}: availability ${ratio(t.availability)} `
        + `(responsive ${ratio(t.responsive)}); unplanned down ${secs(t.unplanned_down_s)}, planned ${secs(t.planned_down_s)}, unknown ${secs(t.unknown_s)}.`),
      sloLine,
      h('div', { class: 'actions' },
        h('button', { type: 'button', onclick: () => openAs(availPath(), 'html', out, 'availability.html') }, 'Printable report'),
        h('button', { type: 'button', onclick: () => openAs(availPath(), 'csv', out, 'availability.csv') }, 'CSV')),
      vms.el, h('h3', null, 'Outages'), outages.el);
    vms.update(r.vms);
    outages.update(r.outages);
  }
  function showCap(r) {
    replace(cap,
      h('p', null, `${r.hosts.length} hosts: ${r.totals.fits < 0 ? 'any number of' : r.totals.fits} more VMs of `
        + `${r.size.vcpus} vCPU, ${bytes(r.size.memory_bytes)} memory and ${bytes(r.size.disk_bytes)} disk fit.`),
      h('div', { class: 'actions' },
        h('button', { type: 'button', onclick: () => openAs(capPath(), 'html', out, 'capacity.html') }, 'Printable capacity report'),
        h('button', { type: 'button', onclick: () => openAs(capPath(), 'csv', out, 'capacity.csv') }, 'Capacity CSV')),
      hosts.el);
    hosts.update(r.hosts);
  }
  async function load() {
    replace(out);
    delete main.dataset.ready;
    await Promise.all([
      loadInto(avail, () => api(availPath(), { signal: ctl.signal }), showAvail),
      loadInto(cap, () => api(capPath(), { signal: ctl.signal }), showCap),
    ]);
    main.dataset.ready = 'true';
  }
  load();
  return { dispose: () => ctl.abort() };
}
