// One host: what it is, whether it is in maintenance (an operator puts it
// in and takes it out), its VMs (the fleet's table, for this host), pools,
// networks, and its utilisation over 1 h to 90 d from the history tiers.

import { h, replace, throttle } from '../dom.js';
import { api, may } from '../api.js';
import { bytes, time } from '../format.js';
import { dataTable } from '../table.js';
import { hgrChart, chartWidth, columns, disposeCharts } from '../chart.js';
import { loadInto, stateBadge, sevCounts, rangeButtons, RANGES, RANGE_S, confirmDialog } from './common.js';
import { vmColumns } from './fleet.js';
import { vmCell, hostCell, plural } from './decisions.js';
import { haBadge } from './ha.js';

const enc = encodeURIComponent;

// Host CPU (busy and I/O wait, % of all cores) and memory (used without
// buffers and caches, total) from the columns of a host history reply.
export function hostSeries(cols) {
  const user = cols.get('cpu_user_ns'); const kern = cols.get('cpu_kernel_ns');
  const idle = cols.get('cpu_idle_ns'); const wait = cols.get('cpu_iowait_ns');
  const total = cols.get('mem_total'); const free = cols.get('mem_free');
  const buffers = cols.get('mem_buffers'); const cached = cols.get('mem_cached');
  const busy = []; const iowait = []; const used = [];
  for (let i = 0; i < cols.x.length; i++) {
    const all = user[i] + kern[i] + idle[i] + (wait[i] || 0);
    const cpuKnown = user[i] !== null && kern[i] !== null && idle[i] !== null && all > 0;
    busy.push(cpuKnown ? (100 * (user[i] + kern[i])) / all : null);
    iowait.push(cpuKnown ? (100 * (wait[i] || 0)) / all : null);
    used.push(total[i] !== null && free[i] !== null ? total[i] - free[i] - (buffers[i] || 0) - (cached[i] || 0) : null);
  }
  return { busy, iowait, used, total };
}

export function hostPage(main, name) {
  const head = h('section', { 'aria-label': 'Host' });
  const maintBox = h('section', { class: 'actions', 'aria-label': 'Maintenance' });
  const maintStatus = h('p', { class: 'action-status', role: 'status', 'aria-live': 'polite' });
  const planBox = h('div', { class: 'maintenance-plan' });
  const charts = h('section', { class: 'charts', 'aria-label': 'Utilisation' });
  const pools = h('section', { 'aria-label': 'Storage pools' });
  const nets = h('section', { 'aria-label': 'Networks' });
  const vmTable = dataTable({ columns: vmColumns(false), caption: 'Virtual machines on this host', filterLabel: 'Filter VMs', initialSort: { key: 'name', dir: 1 } });
  let range = '1h';
  const rangeBox = h('div');
  const title = h('h1', null, 'Host ', h('span', { class: 'mono' }, name));
  replace(main, title, head, maintBox, maintStatus, planBox,
    h('h2', null, 'Utilisation'), rangeBox, charts,
    h('section', { 'aria-label': 'Virtual machines' }, vmTable.el),
    h('h2', null, 'Storage pools'), pools, h('h2', null, 'Networks'), nets);
  const ctl = new AbortController();
  const opt = { signal: ctl.signal };

  // GET /ha is only for the host's HA state: the page stands without it.
  const loadHead = () => loadInto(head, () => Promise.all([api(`/hosts/${enc(name)}`, opt), api(`/fleet?host=${enc(name)}`, opt),
    api('/ha', opt).catch((e) => (e.name === 'AbortError' ? Promise.reject(e) : { error: e }))]), ([x, f, ha]) => {
    const sum = f.hosts[0] || {};
    const hx = ha && ha.hosts ? ha.hosts.find((y) => y.host === name) : null;
    replace(head, h('dl', { class: 'facts' },
      h('dt', null, 'State'), h('dd', null, stateBadge(x.state), x.reason ? ` — ${x.reason}` : ''),
      h('dt', null, 'Maintenance'), h('dd', { 'data-field': 'maintenance' }, x.maintenance
        ? [stateBadge('maintenance'), ` since ${time(x.maintenance_since)}${x.maintenance_by ? ` by ${x.maintenance_by}` : ''}: nothing is placed on it and its VMs are evacuated`]
        : 'no'),
      h('dt', null, 'HA'), h('dd', { 'data-field': 'ha' }, hx
        ? [haBadge(hx.state), hx.reason ? ` \u2014 ${hx.reason}` : '', ha.enabled ? '' : ' (HA is off now)', ' (', h('a', { href: '#/ha' }, 'High availability'), ')']
        : ha && ha.error ? `unknown: ${ha.error.message}` : '\u2013'),
      h('dt', null, 'URI'), h('dd', { class: 'mono' }, x.uri),
      h('dt', null, 'Hypervisor'), h('dd', null, `${x.driver || '–'} ${x.hv_version || ''} (libvirt ${x.libvirt_version || '–'})`),
      h('dt', null, 'CPUs'), h('dd', null, `${x.cpus ?? '–'} × ${x.cpu_model || '?'} at ${x.mhz ?? '?'} MHz, ${x.numa_cells ?? '?'} NUMA cells`),
      h('dt', null, 'Memory'), h('dd', null, bytes(x.memory_bytes)),
      h('dt', null, 'Inventory synced'), h('dd', null, time(x.inventory_synced_at)),
      h('dt', null, 'Last seen'), h('dd', null, time(x.last_seen)),
      h('dt', null, 'Open findings'), h('dd', null, sevCounts(sum.findings_open, '#/findings'))));
    vmTable.update(f.vms);
    replace(title, 'Host ', h('span', { class: 'mono' }, name), x.maintenance ? [' ', stateBadge('maintenance')] : null);
    showMaint(x);
    main.dataset.ready = 'true';
  });

  let busy = false;
  function showMaint(x) {
    if (!may('operator')) { replace(maintBox); return; }
    const on = !x.maintenance;
    replace(maintBox, h('button', {
      type: 'button', disabled: busy,
      onclick: async () => {
        const reason = h('textarea', { id: 'maint-reason', rows: 2 });
        const ok = await confirmDialog({
          title: on ? `Put ${name} in maintenance?` : `Take ${name} out of maintenance?`,
          body: h('div', null,
            h('p', null, on
              ? 'No policy places a VM on it any more, and its running VMs are evacuated to other hosts where they fit (the plan is shown next). Recorded in the audit trail under your token.'
              : 'The policies may place VMs on it again; VMs already moved away stay where they are. Recorded in the audit trail under your token.'),
            h('label', { for: 'maint-reason' }, 'Reason (optional)'), reason),
          confirm: on ? 'Enter maintenance' : 'Leave maintenance',
        });
        if (!ok) return;
        busy = true;
        showMaint(x);
        maintStatus.textContent = on ? `Putting ${name} in maintenance…` : `Taking ${name} out of maintenance…`;
        try {
          const body = { on };
          if (reason.value.trim()) body.reason = reason.value.trim();
          const r = await api(`/hosts/${enc(name)}/maintenance`, { method: 'POST', body });
          showPlan(r, on);
        } catch (e) {
          maintStatus.textContent = `${on ? 'Entering' : 'Leaving'} maintenance failed: ${e.message}`;
        } finally {
          busy = false;
          await loadHead();
          const again = maintBox.querySelector('button');
          if (again) again.focus();
        }
      },
    }, on ? 'Enter maintenance…' : 'Leave maintenance…'));
  }

  // The evacuation as kanri plans it now: each VM to its destination, or
  // why it cannot be placed.
  function showPlan(r, on) {
    if (!on || r.maintenance === false) {
      replace(planBox);
      maintStatus.textContent = `${name} is out of maintenance: the policies may place VMs on it again.`;
      return;
    }
    const plan = r.plan || [];
    const moving = plan.filter((p) => p.action === 'migrate').length;
    const stuck = plan.length - moving;
    maintStatus.textContent = `${name} is in maintenance. ` + (plan.length
      ? `Planned now: ${plural(moving, 'VM')} to move` + (stuck ? `, ${stuck} that cannot be placed or must wait.` : '.')
      : 'No running VM to move.');
    replace(planBox, plan.length ? h('div', { class: 'table-wrap' }, h('table', { class: 'data plan' },
      h('caption', null, 'Evacuation as planned now'),
      h('thead', null, h('tr', null, ['VM', 'Goes to', 'Rule', 'Why'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', null, plan.map((p) => h('tr', null,
        h('td', null, vmCell(p)),
        h('td', null, p.action === 'migrate' ? hostCell(p.to_host) : h('strong', null, p.rule === 'waiting' ? 'waits' : 'cannot be placed')),
        h('td', { class: 'mono' }, p.rule || '–'),
        h('td', { class: 'reason' }, p.reason || '')))))) : null);
  }

  const loadCharts = () => {
    replace(rangeBox, rangeButtons(RANGES, range, (r) => { range = r; loadCharts(); }));
    const to = Math.floor(Date.now() / 1000);
    const from = to - RANGE_S[range];
    return loadInto(charts, () => api(`/hosts/${enc(name)}/metrics?metric=cpu_user_ns,cpu_kernel_ns,cpu_idle_ns,cpu_iowait_ns,mem_total,mem_free,mem_buffers,mem_cached&format=columns&from=${range}`, opt), (m) => {
      const cols = columns(m);
      const s = hostSeries(cols);
      const w = chartWidth(charts);
      disposeCharts(charts);
      replace(charts,
        hgrChart({ title: 'CPU (host, all cores)', unit: '%', from, to, width: w, x: cols.x, series: [
          { label: 'busy', values: s.busy, stroke: 'var(--c-r)', width: 2 },
          { label: 'I/O wait', values: s.iowait, stroke: 'var(--c-g)', dash: [4, 3] }] }),
        hgrChart({ title: 'Memory (host)', unit: 'B', from, to, width: w, x: cols.x, series: [
          { label: 'used (no caches)', values: s.used, stroke: 'var(--c-r)', width: 2 },
          { label: 'total', values: s.total, stroke: 'var(--c-h)', dash: [6, 4] }] }));
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
      { key: 'active', label: 'Active', value: (r) => (r.active ? 'yes' : 'no'), render: (r) => (r.active ? 'yes' : 'no') },
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
    dispose: () => { ctl.abort(); disposeCharts(charts); },
  };
}
