// One VM: state and lifecycle actions, configuration, the host view H, the
// guest view G and the reconciled value R of every resource now and over
// time (findings as bands, explained in words), snapshots, the history of
// its configuration with diffs, the policies' decisions about it, and its
// audit trail.

import { h, replace, throttle } from '../dom.js';
import { api, vmAction, may } from '../api.js';
import { bytes, time, ago, age, unitValue } from '../format.js';
import { hgrChart, chartWidth, columns, disposeCharts } from '../chart.js';
import { loadInto, errorBox, sevBadge, stateBadge, confirmDialog, rangeButtons, RANGES, RANGE_S, kindLabel } from './common.js';
import { decisionsTable } from './decisions.js';
import { recoveryText, groupText, restartText, haOffText } from './ha.js';

const enc = encodeURIComponent;

// The resources kanri reconciles, in the order the API gives them.
export const RESOURCES = [
  ['cpu_demand', 'CPU demand (busy + wait)', '%'],
  ['cpu_busy', 'CPU busy', '%'],
  ['cpu_wait', 'CPU wait (runnable, not running)', '%'],
  ['mem_used', 'Memory used (no caches)', 'B'],
  ['mem_total', 'Memory the guest has', 'B'],
  ['mem_swap', 'Swap traffic', 'B/s'],
  ['disk_used', 'Disk used', 'B'],
  ['disk_free', 'Disk free (backed)', 'B'],
  ['disk_io', 'Disk I/O', 'B/s'],
  ['net_rx', 'Network received', 'B/s'],
  ['net_tx', 'Network sent', 'B/s'],
];

// Which charts a finding's rule is about; rules about the guest view as a
// whole are drawn on every chart.
const RULE_RESOURCES = {
  'steal-invisible-to-guest': ['cpu_wait', 'cpu_demand', 'cpu_busy'],
  'cpu-busy-mismatch': ['cpu_busy', 'cpu_demand'],
  'vcpu-count-mismatch': ['cpu_busy', 'cpu_demand'],
  'guest-memory-overstated': ['mem_total', 'mem_used'],
  'guest-memory-view-unavailable': ['mem_used'],
  'host-rss-below-guest-use': ['mem_used'],
  'host-rss-overstates-guest-use': ['mem_used'],
  'balloon-induced-swapping': ['mem_swap', 'mem_total'],
  'thin-pool-overcommit': ['disk_free', 'disk_used'],
  'trim-debt': ['disk_used'],
  'disk-io-mismatch': ['disk_io'],
  'net-io-mismatch': ['net_rx', 'net_tx'],
  'container-cpu-throttled': ['cpu_wait', 'cpu_demand', 'cpu_busy'],
  'container-sees-host-memory': ['mem_total', 'mem_used'],
  'container-oom-kill': ['mem_used', 'mem_total'],
  'container-sees-host-disk': ['disk_used', 'disk_free'],
};

export function findingsFor(resource, findings) {
  return findings.filter((f) => {
    const on = RULE_RESOURCES[f.rule];
    return !on || on.includes(resource);
  });
}

// H, G and R of RESOURCE from the columns of a view=reconciled reply.
export function hgrSeries(cols, resource) {
  return [
    { label: 'H host view', values: cols.get(`${resource}_h`), stroke: 'var(--c-h)', dash: [6, 4] },
    { label: 'G guest view', values: cols.get(`${resource}_g`), stroke: 'var(--c-g)', dash: [2, 3] },
    { label: 'R reconciled', values: cols.get(resource), stroke: 'var(--c-r)', width: 2.5 },
  ];
}

const ACTIONS = {
  running: ['shutdown', 'reboot', 'suspend', 'destroy'],
  paused: ['resume', 'destroy'],
  shutoff: ['start'],
  crashed: ['destroy', 'start'],
  pmsuspended: ['destroy'],
};
const LABELS = { start: 'Start', shutdown: 'Shut down', reboot: 'Reboot', suspend: 'Suspend', resume: 'Resume', destroy: 'Force off' };
const WHAT = {
  start: 'boots it', shutdown: 'asks the guest to shut down (ACPI), forcing it off after 60 s', reboot: 'asks the guest to reboot',
  suspend: 'pauses its vCPUs (it keeps its memory)', resume: 'lets its vCPUs run again', destroy: 'cuts it off at once, like pulling the plug: unsaved data in the guest is lost',
};

// A container (liblxc, or libvirt's LXC driver) is shown as a VM with the
// words containers use; controls only a VM has (vCPUs, the balloon,
// migration) are left out, and its limits can be changed instead.
export function isContainer(v) {
  return v.kind === 'container' || v.domain_type === 'lxc';
}
const CT_LABELS = { ...LABELS, suspend: 'Freeze', resume: 'Thaw', destroy: 'Kill' };
const CT_WHAT = {
  ...WHAT,
  start: 'starts its init', shutdown: 'asks its init to halt, killing it after 60 s', reboot: 'asks its init to reboot',
  suspend: 'freezes its processes (they keep their memory)', resume: 'lets its frozen processes run again',
  destroy: 'kills its processes at once: unsaved data is lost',
};

// The limits form's fields: "" means unchanged, 0 removes the limit.
// Returns [params, null] or [null, problem].
export function limitsParams(memMib, cores, pids) {
  const p = {};
  memMib = memMib.trim(); cores = cores.trim(); pids = pids.trim();
  if (memMib !== '') {
    if (!/^\d{1,12}$/.test(memMib)) return [null, 'Memory: a whole number of MiB (0 removes the limit).'];
    p.memory_bytes = Number(memMib) * 1048576;
  }
  if (cores !== '') {
    if (!/^\d{1,4}(\.\d{1,3})?$/.test(cores) || Number(cores) > 1024) return [null, 'CPU: cores with at most 3 decimals, up to 1024, such as 0.5 (0 removes the limit).'];
    p.cpu_millicores = Math.round(Number(cores) * 1000);
  }
  if (pids !== '') {
    if (!/^\d{1,7}$/.test(pids) || Number(pids) > 4194304) return [null, 'Processes: a whole number up to 4194304 (0 removes the limit).'];
    p.pids = Number(pids);
  }
  if (!Object.keys(p).length) return [null, 'Give at least one limit.'];
  return [p, null];
}

export function vmPage(main, ref) {
  const ctl = new AbortController();
  const opt = { signal: ctl.signal };
  const title = h('h1', null, 'VM ', h('span', { class: 'mono' }, ref));
  const head = h('section', { class: 'vm-head', 'aria-label': 'State' });
  const actionsBox = h('section', { class: 'actions', 'aria-label': 'Actions' });
  const status = h('p', { class: 'action-status', role: 'status', 'aria-live': 'polite' });
  const now = h('section', { 'aria-label': 'Now' });
  const findingsBox = h('section', { 'aria-label': 'Open findings' });
  const rangeBox = h('div');
  const charts = h('section', { class: 'charts', 'aria-label': 'History' });
  const config = h('section', { 'aria-label': 'Configuration' });
  const snaps = h('section', { 'aria-label': 'Snapshots' });
  const changes = h('section', { 'aria-label': 'Configuration history' });
  const haBox = h('section', { 'aria-label': 'High availability', 'data-section': 'ha' });
  const decisions = h('section', { 'aria-label': 'Policy decisions' });
  const decisionTable = decisionsTable({ caption: 'The last 20 decisions of the policies about this VM, newest first', empty: 'No policy has decided anything about this VM.', showVm: false });
  const audit = h('section', { 'aria-label': 'Audit trail' });
  replace(main, title, head, actionsBox, status,
    h('h2', null, 'Now: host view, guest view, reconciled'), now,
    h('h2', null, 'Open findings'), findingsBox,
    h('h2', null, 'History'), rangeBox, charts,
    h('h2', null, 'Configuration'), config,
    h('h2', null, 'Snapshots'), snaps,
    h('h2', null, 'Configuration history'), changes,
    h('h2', null, 'High availability'), haBox,
    h('h2', null, 'Policy decisions'), decisions,
    h('h2', null, 'Audit trail'), audit);
  let vm = null;
  let range = '1h';
  let busy = false;

  function showHead(v) {
    vm = v;
    title.replaceChildren(`${kindLabel(v.kind)} `, h('span', { class: 'mono' }, v.name));
    document.title = `${v.name} — kanri`;
    replace(head, h('dl', { class: 'facts' },
      h('dt', null, 'Kind'), h('dd', { 'data-field': 'kind' }, v.kind === 'container' ? 'Container (system container)' : 'VM (virtual machine)'),
      h('dt', null, 'State'), h('dd', { 'data-field': 'state' }, stateBadge(v.state), v.state_reason && v.state_reason !== 'unknown' ? ` (${v.state_reason})` : ''),
      h('dt', null, 'Host'), h('dd', null, h('a', { href: `#/host/${enc(v.host)}` }, v.host)),
      h('dt', null, 'UUID'), h('dd', { class: 'mono' }, v.uuid),
      h('dt', null, 'Guest agent'), h('dd', null, v.has_agent ? 'qemu-guest-agent channel' : 'none configured')));
    showActions();
  }

  async function act(action, params) {
    if (busy) return;
    busy = true;
    showActions();
    const label = (isContainer(vm) ? CT_LABELS : LABELS)[action] || action;
    status.textContent = `${label}: ${vm.name}…`;
    try {
      const r = await vmAction(vm.uuid, action, params);
      status.textContent = `${label}: done${r.forced ? ' (forced off after the timeout)' : ''}${r.reached === false ? ' (the balloon has not reached the target yet)' : ''}.`;
      if (r.vm) showHead(r.vm);
      loadSide();
    } catch (e) {
      status.textContent = `${label} failed: ${e.message}`;
    } finally {
      busy = false;
      showActions();
    }
  }

  function button(action) {
    const labels = isContainer(vm) ? CT_LABELS : LABELS;
    const what = isContainer(vm) ? CT_WHAT : WHAT;
    return h('button', {
      type: 'button', disabled: busy, class: action === 'destroy' ? 'danger' : null,
      onclick: async () => {
        const ok = await confirmDialog({
          title: `${labels[action]} ${vm.name}?`, danger: action === 'destroy',
          body: h('p', null, `This ${what[action]}. It is recorded in the audit trail under your token.`),
          confirm: labels[action],
        });
        if (ok) act(action, action === 'shutdown' ? { force: true } : {});
      },
    }, labels[action]);
  }

  // Memory in MiB, CPU in cores, processes; empty fields stay as they are.
  async function limitsDialog() {
    const field = (id, label, hint, mode) => {
      const input = h('input', { id, type: 'text', inputmode: mode, autocomplete: 'off', placeholder: 'unchanged', 'aria-describedby': `${id}-hint` });
      return [input, h('div', { class: 'field' }, h('label', { for: id }, label), input, h('p', { id: `${id}-hint`, class: 'muted' }, hint))];
    };
    const [mem, memBox] = field('lim-mem', 'Memory (MiB)', 'Such as 512; 0 removes the limit.', 'numeric');
    const [cpu, cpuBox] = field('lim-cpu', 'CPU (cores)', 'Such as 0.5 for half a core; 0 removes the limit.', 'decimal');
    const [pids, pidsBox] = field('lim-pids', 'Processes', 'The most processes it may have; 0 removes the limit.', 'numeric');
    const ok = await confirmDialog({
      title: `Limits of ${vm.name}`,
      body: h('div', null, h('p', null, 'Set live and kept in its configuration. Empty fields stay as they are. It is recorded in the audit trail under your token.'), memBox, cpuBox, pidsBox),
      confirm: 'Set limits',
      validate: () => limitsParams(mem.value, cpu.value, pids.value)[1],
    });
    if (ok) act('set-limits', limitsParams(mem.value, cpu.value, pids.value)[0]);
  }

  function numberDialog(action, label, unitLabel, initial, toParams, min) {
    return async () => {
      const id = `dlg-${action}`;
      const input = h('input', { id, type: 'number', min, step: 1, value: initial, required: true });
      const cfg = h('input', { id: `${id}-cfg`, type: 'checkbox' });
      const ok = await confirmDialog({
        title: `${label} of ${vm.name}`,
        body: h('div', null, h('label', { for: id }, `${label} (${unitLabel})`), input,
          h('p', null, cfg, ' ', h('label', { for: `${id}-cfg` }, 'also keep it in the persistent definition'))),
        confirm: 'Apply',
        validate: () => (Number.isInteger(Number(input.value)) && Number(input.value) >= min ? null : `Enter a whole number of at least ${min}.`),
      });
      if (ok) act(action, toParams(Number(input.value), cfg.checked));
    };
  }

  function showActions() {
    if (!vm) return;
    if (!may('operator')) {
      replace(actionsBox, h('p', { class: 'muted' }, 'This token is a viewer\u2019s: actions need an operator token.'));
      return;
    }
    const list = ACTIONS[vm.state] || [];
    const ct = isContainer(vm);
    replace(actionsBox,
      list.map(button),
      ct ? h('button', { type: 'button', disabled: busy, onclick: limitsDialog }, 'Limits…') : null,
      ct ? null : h('button', { type: 'button', disabled: busy, onclick: numberDialog('setmem', 'Memory', 'MiB', Math.round(vm.memory_bytes / 1048576), (v, c) => ({ memory_mib: v, config: c }), 64) }, 'Set memory…'),
      ct ? null : h('button', { type: 'button', disabled: busy, onclick: numberDialog('setvcpus', 'vCPUs', 'count', vm.vcpus, (v, c) => ({ vcpus: v, config: c }), 1) }, 'Set vCPUs…'),
      h('button', {
        type: 'button', disabled: busy,
        onclick: async () => {
          const input = h('input', { id: 'snap-name', type: 'text', placeholder: 'generated when empty' });
          const ok = await confirmDialog({ title: `Snapshot of ${vm.name}`, body: h('div', null, h('label', { for: 'snap-name' }, 'Name'), input), confirm: 'Take snapshot' });
          if (ok) act('snapshot-create', input.value.trim() ? { name: input.value.trim() } : {});
        },
      }, 'Snapshot…'),
      ct ? null : h('button', {
        type: 'button', disabled: busy || vm.state !== 'running',
        onclick: async () => {
          let hosts = [];
          try { hosts = (await api('/hosts')).hosts.filter((x) => x.name !== vm.host && x.state === 'connected'); } catch (e) { status.textContent = e.message; return; }
          if (!hosts.length) { status.textContent = 'Migrate: no other connected host to move it to.'; return; }
          const sel = h('select', { id: 'mig-to' }, hosts.map((x) => h('option', { value: x.name }, x.name)));
          const ok = await confirmDialog({ title: `Migrate ${vm.name}`, body: h('div', null, h('label', { for: 'mig-to' }, 'To host'), sel), confirm: 'Migrate' });
          if (ok) act('migrate', { to_host: sel.value, live: true });
        },
      }, 'Migrate…'));
  }

  function showNow(rec) {
    const rows = rec.resources.map((x) => h('tr', null,
      h('th', { scope: 'row' }, x.resource),
      h('td', { class: 'num' }, unitValue(x.h, x.unit)),
      h('td', { class: 'num' }, unitValue(x.g, x.unit)),
      h('td', { class: 'num r' }, unitValue(x.r, x.unit)),
      h('td', null, x.provenance, x.g_source ? ` (guest: ${x.g_source})` : ''),
      h('td', null, `H ${age(x.h_age_s)}, G ${age(x.g_age_s)}`),
      h('td', { class: 'reason' }, x.reason || '')));
    replace(now, h('p', { class: 'muted' }, `Round of ${time(rec.time)} (${age(rec.age_s)} old). `,
      'R is never filled in from the other side: an unknown stays unknown, with the reason.'),
    h('div', { class: 'table-wrap' }, h('table', { class: 'data now' },
      h('caption', null, 'Each resource as the host sees it (H), as the guest reports it (G), and what kanri trusts (R)'),
      h('thead', null, h('tr', null, ['Resource', 'H', 'G', 'R', 'Provenance', 'Age', 'Why'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', null, rows))));
    const open = rec.findings || [];
    replace(findingsBox, open.length
      ? h('ul', { class: 'findings' }, open.map((f) => h('li', null, sevBadge(f.severity), ' ', h('strong', null, f.rule), ` since ${ago(f.since || f.opened)}: `, f.message)))
      : h('p', null, 'None: the host and guest views agree within the rules.'));
  }

  async function loadCharts() {
    replace(rangeBox, rangeButtons(RANGES, range, (r) => { range = r; loadCharts(); }));
    const to = Math.floor(Date.now() / 1000);
    const from = to - RANGE_S[range];
    const asked = performance.now();
    return loadInto(charts, () => Promise.all([
      api(`/vms/${enc(ref)}/metrics?view=reconciled&metric=all&format=columns&from=${range}`, opt),
      api(`/findings?vm=${enc(ref)}&state=all&limit=1000`, opt),
    ]), ([m, fs]) => {
      const t0 = performance.now();
      charts.dataset.fetchMs = String(Math.round(t0 - asked));
      const width = chartWidth(charts);
      const cols = columns(m);
      const figs = RESOURCES.map(([res, label, unit]) => {
        const related = findingsFor(res, fs.findings).filter((f) => {
          const a = Date.parse(f.opened) / 1000;
          const b = f.closed ? Date.parse(f.closed) / 1000 : to;
          return b >= from && a <= to;
        });
        const bands = related.map((f) => ({ from: Date.parse(f.opened) / 1000, to: f.closed ? Date.parse(f.closed) / 1000 : to, severity: f.severity }));
        const fig = hgrChart({ title: label, unit, from, to, width, x: cols.x, series: hgrSeries(cols, res), bands });
        fig.dataset.resource = res;
        if (related.length) {
          fig.appendChild(h('ul', { class: 'band-notes' }, related.map((f) => h('li', null, sevBadge(f.severity), ' ',
            `${f.rule} (${time(f.opened)} – ${f.closed ? time(f.closed) : 'open'}): ${f.message}`))));
        }
        return fig;
      });
      disposeCharts(charts);
      replace(charts, figs);
      charts.dataset.renderMs = String(Math.round(performance.now() - t0));
      charts.dataset.range = range;
    });
  }

  function loadSide() {
    loadInto(snaps, () => api(`/vms/${enc(ref)}/snapshots`, opt), (s) => {
      replace(snaps, s.snapshots.length ? h('ul', { class: 'snapshots' }, s.snapshots.map((x) => h('li', null,
        h('strong', null, x.name), ` — ${x.state}, ${time(x.created_at)}${x.current ? ' (current)' : ''}`,
        may('operator') ? [' ',
          h('button', { type: 'button', onclick: async () => { if (await confirmDialog({ title: `Revert ${vm.name} to ${x.name}?`, body: h('p', null, 'The VM goes back to the snapshot; what changed since is lost.'), confirm: 'Revert', danger: true })) act('snapshot-revert', { name: x.name }); } }, 'Revert'), ' ',
          h('button', { type: 'button', onclick: async () => { if (await confirmDialog({ title: `Delete snapshot ${x.name}?`, confirm: 'Delete', danger: true })) act('snapshot-delete', { name: x.name }); } }, 'Delete')] : null)))
        : h('p', null, 'No snapshots.'));
    });
    loadInto(changes, () => api(`/changes?vm=${enc(ref)}&limit=50`, opt), (c) => {
      replace(changes, c.changes.length ? h('ul', { class: 'changes' }, c.changes.map((x) => h('li', null,
        h('details', null, h('summary', null, `${time(x.seen_at)} — ${x.track} v${x.from_version ?? 0} → v${x.to_version ?? '–'}, ${x.cause}${x.actor ? ` by ${x.actor}` : ''}${x.pending ? ' (pending: applies at next boot)' : ''}`),
          h('pre', { class: 'diff' }, x.diff || '(no diff)')))))
        : h('p', null, 'No recorded change.'));
    });
    loadDecisions();
    loadInto(audit, () => api(`/audit?vm=${enc(ref)}&limit=50`, opt), (a) => {
      replace(audit, a.audit.length ? h('div', { class: 'table-wrap' }, h('table', { class: 'data' },
        h('caption', null, 'Actions on this VM, newest first'),
        h('thead', null, h('tr', null, ['When', 'Who', 'Action', 'Parameters', 'Result'].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', null, a.audit.map((x) => h('tr', null, h('td', null, time(x.started_at)), h('td', null, x.actor),
          h('td', null, x.action), h('td', { class: 'mono' }, JSON.stringify(x.params || {})),
          h('td', null, x.result, x.error ? `: ${x.error}` : ''))))))
        : h('p', null, 'No action recorded.'));
    });
  }

  function showConfig(v) {
    // A container has limits where a VM has vCPUs and a balloon; its
    // configuration file has no disks or NICs kanri reads.
    if (isContainer(v)) {
      replace(config, h('dl', { class: 'facts' },
        h('dt', null, 'CPUs it may use'), h('dd', null, String(v.vcpus)),
        h('dt', null, 'Memory limit'), h('dd', null, v.max_memory_bytes ? bytes(v.max_memory_bytes) : 'none (the host\'s memory)'),
        h('dt', null, 'Type'), h('dd', null, `${v.domain_type} / ${v.os_type}`),
        h('dt', null, 'Autostart'), h('dd', null, v.autostart ? 'yes' : 'no'),
        h('dt', null, 'Configuration version'), h('dd', null, String(v.config_version))));
      return;
    }
    replace(config, h('dl', { class: 'facts' },
      h('dt', null, 'vCPUs'), h('dd', null, `${v.vcpus} (max ${v.max_vcpus})`),
      h('dt', null, 'Memory'), h('dd', null, `${bytes(v.memory_bytes)} (max ${bytes(v.max_memory_bytes)}), balloon: ${v.balloon_model || 'none'}`),
      h('dt', null, 'Type'), h('dd', null, `${v.domain_type} / ${v.os_type}`),
      h('dt', null, 'Persistent'), h('dd', null, v.persistent ? 'yes' : 'no (transient)'),
      h('dt', null, 'Autostart'), h('dd', null, v.autostart ? 'yes' : 'no'),
      h('dt', null, 'Configuration version'), h('dd', null, String(v.config_version), v.pending_changes ? ` (${v.pending_changes} pending for the next boot)` : '')),
    h('div', { class: 'table-wrap' }, h('table', { class: 'data' }, h('caption', null, 'Disks'),
      h('thead', null, h('tr', null, ['Target', 'Device', 'Source', 'Capacity', 'Allocated', 'Physical'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', null, (v.disks || []).map((d) => h('tr', null, h('td', null, d.target), h('td', null, d.device),
        h('td', { class: 'mono' }, d.source || '–'), h('td', { class: 'num' }, bytes(d.capacity_bytes)),
        h('td', { class: 'num' }, bytes(d.allocation_bytes)), h('td', { class: 'num' }, bytes(d.physical_bytes))))))),
    h('div', { class: 'table-wrap' }, h('table', { class: 'data' }, h('caption', null, 'Network interfaces'),
      h('thead', null, h('tr', null, ['MAC', 'Type', 'Source', 'Model', 'Device'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', null, (v.nics || []).map((n) => h('tr', null, h('td', { class: 'mono' }, n.mac), h('td', null, n.type),
        h('td', null, n.source || '–'), h('td', null, n.model || '–'), h('td', null, n.target || '–')))))));
  }

  // The rows keep their open details across refreshes.
  function loadDecisions() {
    return loadInto(decisions, () => api(`/decisions?vm=${enc(ref)}&action=any&limit=20`, opt), (d) => {
      if (decisionTable.el.parentNode !== decisions) replace(decisions, decisionTable.el);
      decisionTable.update(d.decisions || []);
    });
  }

  // Whether it is an HA VM (GET /ha lists those, and VMs with a recovery
  // on record), its settings and its newest recovery.
  function showHa(d) {
    const x = (d.vms || []).find((y) => y.uuid === vm.uuid);
    const more = h('p', null, 'Every HA VM and the hosts\u2019 HA states are on the ', h('a', { href: '#/ha' }, 'High availability'), ' page',
      may('operator') ? ', where an operator changes its settings.' : '.');
    const off = haOffText(d);
    if (!x || (!x.ha && !x.recovery)) {
      replace(haBox, h('p', { 'data-field': 'ha' }, 'Not an HA VM: kanri does not restart it when its host fails.'), more);
      return;
    }
    replace(haBox, h('dl', { class: 'facts' },
      h('dt', null, 'HA VM'), h('dd', { 'data-field': 'ha' }, x.ha ? 'yes: restarted when its host fails' : 'no (HA off)',
        x.ha && off ? ` \u2014 but not now: ${off}` : ''),
      x.ha ? [
        h('dt', null, 'Priority'), h('dd', { 'data-field': 'ha-priority' }, String(x.priority), ' (higher is restarted first)'),
        h('dt', null, 'Restart'), h('dd', { 'data-field': 'ha-restart' }, restartText(x.restart)),
        h('dt', null, 'Group'), h('dd', { 'data-field': 'ha-group' }, groupText(x.group, d.groups)),
        h('dt', null, 'Settings from'), h('dd', null, x.source === 'api' ? 'set over the API' : x.source || '\u2013')] : null,
      h('dt', null, 'Last recovery'), h('dd', { 'data-field': 'ha-recovery' }, recoveryText(x.recovery))), more);
  }
  const loadHa = () => loadInto(haBox, () => api('/ha', opt), showHa);

  const loadHead = () => loadInto(head, () => api(`/vms/${enc(ref)}`, opt), (v) => {
    showHead(v);
    showConfig(v);
    loadHa();
    main.dataset.ready = 'true';
  });
  const loadNow = () => api(`/vms/${enc(ref)}/reconciled`, opt).then(showNow).catch((e) => {
    if (e.name === 'AbortError') return;
    replace(now, e.status === 404 ? h('p', null, 'No reconciled round yet: it needs a host sample of the running VM.') : errorBox(e, loadNow));
    replace(findingsBox, h('p', { class: 'muted' }, 'Findings come with the reconciled rounds.'));
  });
  loadHead();
  loadNow();
  loadCharts();
  loadSide();
  const refreshHead = throttle(() => { loadHead(); loadSide(); }, 500);
  const refreshNow = throttle(loadNow, 2000);
  const refreshCharts = throttle(() => { if (range === '1h') loadCharts(); }, 15000);
  const refreshDecisions = throttle(loadDecisions, 10000);
  return {
    onLive: (type, d) => {
      if (type === 'reset') { refreshHead(); refreshNow(); return; }
      if (!vm) return;
      if (type === 'event' && d.item === `vm:${vm.uuid}`) { refreshHead(); refreshNow(); }
      if (type === 'round' && d.host === vm.host) { refreshNow(); refreshCharts(); refreshDecisions(); }
    },
    dispose: () => { ctl.abort(); disposeCharts(charts); },
  };
}
