// High availability: whether it runs (and that the policies' kill switch
// stops it too), its settings and groups; each host's HA state with the
// signals it combines, its fence agent and the reason in words (an admin
// confirms a dead host is off); the HA VMs with their settings and newest
// recovery (an operator edits a VM's settings or resets them to
// kanri.conf's).  One request, GET /ha, feeds it; live messages refresh it.

import { h, replace, throttle } from '../dom.js';
import { api, may } from '../api.js';
import { time, ago } from '../format.js';
import { loadInto, confirmDialog } from './common.js';
import { hostCell, plural } from './decisions.js';

const enc = encodeURIComponent;

// A host's HA state, coloured by how bad it is.
const HOST_LEVEL = {
  up: 'ok',
  suspect: 'warning',
  down: 'critical',
  fencing: 'critical',
  'fence-failed': 'critical',
  fenced: 'warning',
  recovered: 'warning',
  rejoining: 'warning',
};

// The states in which a host is declared dead: an admin may confirm it is
// off (POST /ha/hosts/{host}/fenced).
const DEAD = ['down', 'fencing', 'fence-failed'];

const HOST_WORDS = {
  up: 'up: nothing to do',
  suspect: 'suspect: a signal says it may be gone; it is declared dead only when the others agree',
  down: 'down: declared dead, to be fenced before its VMs restart',
  fencing: 'fencing: its fence agent is switching it off',
  'fence-failed': 'fence failed: not known to be off, so its VMs are not restarted',
  fenced: 'fenced: known to be off; its HA VMs are being restarted',
  recovered: 'recovered: its HA VMs were handled; waiting for it to come back',
  rejoining: 'rejoining: back, its stale copies being cleaned',
};

const RECOVERY_LEVEL = {
  pending: 'warning',
  starting: 'warning',
  started: 'ok',
  unplaced: 'critical',
  failed: 'critical',
  reported: 'warning',
  done: 'ok',
};

export const RESTARTS = [
  ['elsewhere', 'elsewhere: on another host'],
  ['in-place', 'in place: on its own host when it is back'],
  ['report', 'report: only say it is down'],
];

const PRIORITY_MAX = 1000;

export function haBadge(state) {
  return h('span', { class: `state ha-${HOST_LEVEL[state] || 'unknown'}`, 'data-ha-state': state }, state || '–');
}

function recoveryBadge(state) {
  return h('span', { class: `state ha-${RECOVERY_LEVEL[state] || 'unknown'}` }, state);
}

// A VM's newest recovery in a line: "started a → b, 12:04 (2 min ago): why".
export function recoveryText(rec) {
  if (!rec) return h('span', { class: 'muted' }, 'none');
  const route = rec.from || rec.to ? ` ${rec.from || '?'} \u2192 ${rec.to || '?'}` : '';
  const when = rec.since || rec.failure;
  return h('span', { class: 'recovery' }, recoveryBadge(rec.state), route,
    when ? `, ${time(when)} (${ago(when)})` : '',
    rec.attempts > 1 ? `, ${plural(rec.attempts, 'attempt')}` : '',
    rec.reason ? h('div', { class: 'reason' }, rec.reason) : null);
}

export function groupText(group, groups) {
  if (!group) return 'any host';
  const hosts = groups && groups[group];
  return hosts ? `${group} (${hosts.join(', ')})` : group;
}

export function restartText(r) {
  const found = RESTARTS.find(([k]) => k === r);
  return found ? found[1] : r || '–';
}

// Why HA does nothing now, or null when it runs.
export function haOffText(d) {
  if (d.enabled) return null;
  return d.policies_kill_switch
    ? 'The policies\u2019 kill switch is on: no host is fenced and no VM restarted until an admin starts the policies again.'
    : 'HA is off in kanri.conf ([ha] enabled = no): no host is fenced and no VM restarted.';
}

function connectionText(c) {
  if (!c) return '–';
  if (c.up) return h('span', null, 'up');
  return h('span', null, h('strong', null, 'lost'), c.lost ? ` since ${time(c.lost)} (${ago(c.lost)})` : '');
}

function probeText(p) {
  if (!p || p.kind === 'none') return h('span', { class: 'muted' }, 'no probe configured');
  const answer = p.answer === 'ok' ? 'answers' : p.answer === 'failed' ? h('strong', null, 'no answer')
    : p.answer === 'unknown' ? 'not run yet' : p.answer;
  return h('span', null, answer, h('div', { class: 'reason' },
    `${p.kind}${p.spec ? ` ${p.spec.replace(/^[a-z]+:/, '')}` : ''}`,
    p.detail ? ` \u2014 ${p.detail}` : '', p.at ? ` (${ago(p.at)})` : ''));
}

function guestsText(g) {
  if (!g || !g.direct) return h('span', { class: 'muted' }, 'none reports directly');
  return `${g.reporting} of ${g.direct} reporting`;
}

function fenceText(f) {
  if (!f) return '–';
  const tries = f.attempts ? `, ${plural(f.attempts, 'attempt')} in this failure` : '';
  if (!f.configured) return h('span', null, h('span', { class: 'muted' }, 'none configured'), tries);
  return h('span', null, h('span', { class: 'mono' }, f.agent || '?'), h('div', { class: 'reason' }, `timeout ${f.timeout_s} s${tries}`));
}

export function haPage(main) {
  const ctl = new AbortController();
  const opt = { signal: ctl.signal };
  const status = h('p', { class: 'action-status', role: 'status', 'aria-live': 'polite' });
  const stamp = h('p', { class: 'muted stamp' });
  const overview = h('section', { class: 'policy-card', 'aria-labelledby': 'ha-overview' });
  const hostsBox = h('div');
  const vmsBox = h('div');
  const region = h('div', null, overview,
    h('section', { 'aria-labelledby': 'ha-hosts' }, h('h2', { id: 'ha-hosts' }, 'Hosts'), hostsBox),
    h('section', { 'aria-labelledby': 'ha-vms', 'data-section': 'ha-vms' }, h('h2', { id: 'ha-vms', tabindex: '-1' }, 'HA VMs'), vmsBox));
  const adder = may('operator') ? addForm() : null;
  replace(main, h('h1', null, 'High availability'),
    h('p', { class: 'muted' }, 'kanri watches every host through three signals: its libvirt connection, a reachability probe, and the HA VMs that report directly through kanri-guestd. A host is declared dead only when they agree; it is then fenced (switched off by its fence agent) before its HA VMs are restarted elsewhere, highest priority first. Every step is recorded as an event (',
      h('span', { class: 'mono' }, 'ha.*'), ') and each action is in the ', h('a', { href: '#/audit' }, 'audit trail'), ' under the actor ', h('span', { class: 'mono' }, 'ha'), '.'),
    status, stamp, region, adder ? adder.el : null);

  let data = null;
  let editing = null; // the UUID of the VM whose settings are being edited
  let busy = false;

  function say(text) { status.textContent = text; }

  function focusKey(key) {
    const el = key ? main.querySelector(`[data-key="${CSS.escape(key)}"]`) : null;
    if (el) el.focus();
    return !!el;
  }

  // Runs FN (which rebuilds part of the page) and gives the focus back to
  // the element with the same data-key, when the focus was on one.
  function keepFocus(fn) {
    const a = document.activeElement;
    const key = a && main.contains(a) && a.dataset ? a.dataset.key : null;
    fn();
    if (key) focusKey(key);
  }

  function showOverview() {
    const off = haOffText(data);
    const settings = Object.entries(data.settings || {});
    const groups = Object.entries(data.groups || {});
    replace(overview,
      h('h2', { id: 'ha-overview' }, 'HA'),
      h('p', { 'data-field': 'enabled' }, data.enabled
        ? [h('span', { class: 'state state-running' }, 'on'), ' Dead hosts are fenced and their HA VMs restarted. The policies\u2019 kill switch (on the ', h('a', { href: '#/policies' }, 'Policies'), ' page) stops HA too.']
        : [h('span', { class: 'state state-stopped' }, 'off'), ` ${off}`, data.policies_kill_switch ? [' See the ', h('a', { href: '#/policies' }, 'Policies'), ' page.'] : null]),
      h('h3', null, 'Settings'),
      settings.length
        ? h('dl', { class: 'facts', 'data-field': 'settings' }, settings.map(([k, v]) => [h('dt', { class: 'mono' }, k), h('dd', { class: 'mono' }, v)]))
        : h('p', { class: 'muted' }, 'None.'),
      h('h3', null, 'Groups'),
      groups.length
        ? h('ul', { 'data-field': 'groups' }, groups.map(([g, hosts]) => h('li', null, h('strong', null, g), ': ', hosts.join(', '))))
        : h('p', { 'data-field': 'groups' }, 'None: an HA VM may restart on any host (kanri.conf\u2019s [ha] group.NAME = host, host makes one).'));
  }

  async function confirmOff(x) {
    const vms = (data.vms || []).filter((v) => v.ha && v.host === x.host).length;
    const comment = h('textarea', { id: 'ha-fenced-comment', rows: 2, maxlength: 4000 });
    const ok = await confirmDialog({
      title: `Confirm that ${x.host} is off?`,
      danger: true,
      body: h('div', null,
        h('p', null, `${x.host} is declared dead but not known to be off (${x.reason || x.state}). Confirm only if you know it is off: powered down, or cut from its storage and network, and unable to run its VMs. kanri then restarts its HA VMs (${vms} now) on other hosts, as after a fence.`),
        h('p', null, h('strong', null, 'If it is not really off, two copies of a VM may run at once and write to the same disks, corrupting them.'),
          ' Recorded in the audit trail under your token.'),
        h('label', { for: 'ha-fenced-comment' }, 'Comment (optional): how you know it is off'), comment),
      confirm: `${x.host} is off: restart its VMs`,
    });
    if (!ok || busy) return;
    busy = true;
    say(`Confirming that ${x.host} is off…`);
    try {
      const body = comment.value.trim() ? { comment: comment.value.trim() } : {};
      const r = await api(`/ha/hosts/${enc(x.host)}/fenced`, { method: 'POST', body });
      say(`${r.host} counts as fenced, confirmed by ${r.confirmed_by}: its HA VMs are restarted elsewhere.`);
    } catch (e) {
      say(`Confirming that ${x.host} is off failed: ${e.message}`);
    } finally {
      busy = false;
      await load();
      if (!focusKey(`fenced-${x.host}`)) document.getElementById('ha-hosts').focus();
    }
  }

  function hostRow(x, admin) {
    const sig = x.signals || {};
    return h('tr', { 'data-host': x.host },
      h('th', { scope: 'row' }, hostCell(x.host)),
      h('td', { 'data-field': 'ha-state' }, haBadge(x.state), h('div', { class: 'reason' }, (HOST_WORDS[x.state] || '').replace(/^[^:]*: /, ''))),
      h('td', null, x.since ? [time(x.since), h('div', { class: 'reason' }, ago(x.since))] : '\u2013',
        x.failed ? h('div', { class: 'reason' }, `declared dead ${time(x.failed)}`) : null),
      h('td', { 'data-field': 'connection' }, connectionText(sig.connection)),
      h('td', { 'data-field': 'probe' }, probeText(sig.probe)),
      h('td', { 'data-field': 'guests' }, guestsText(sig.guests)),
      h('td', { 'data-field': 'fence' }, fenceText(x.fence)),
      h('td', { class: 'reason', 'data-field': 'reason' }, x.reason || '\u2013'),
      admin ? h('td', null, DEAD.includes(x.state) ? h('button', {
        type: 'button', class: 'danger', 'data-key': `fenced-${x.host}`, onclick: () => confirmOff(x),
      }, 'Confirm off\u2026', h('span', { class: 'visually-hidden' }, ` (${x.host})`)) : null) : null);
  }

  function showHosts() {
    const admin = may('admin');
    const hosts = data.hosts || [];
    const cols = ['Host', 'HA state', 'Since', 'Connection', 'Probe', 'HA VMs reporting directly', 'Fence agent', 'Why', admin ? 'Action' : null].filter(Boolean);
    replace(hostsBox, h('div', { class: 'table-wrap' }, h('table', { class: 'data ha-hosts' },
      h('caption', null, 'Each host\u2019s HA state and the signals it combines'),
      h('thead', null, h('tr', null, cols.map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', null, hosts.length ? hosts.map((x) => hostRow(x, admin))
        : h('tr', null, h('td', { colspan: cols.length, class: 'empty' }, 'No host is configured.'))))));
  }

  // A VM's HA settings as a form: on/off, priority, restart, group.  The
  // API checks them and says why it refuses (shown beside the form).
  function settingsForm(v, { vmInput = null, submitLabel = 'Save', onsave, oncancel }) {
    const p = vmInput ? 'ha-new' : `ha-${v.uuid}`;
    const on = h('input', { id: `${p}-on`, type: 'checkbox', checked: v.ha !== false });
    const prio = h('input', { id: `${p}-priority`, type: 'number', min: -PRIORITY_MAX, max: PRIORITY_MAX, step: 1, value: String(v.priority ?? 0), class: 'narrow' });
    const restart = h('select', { id: `${p}-restart` }, RESTARTS.map(([k, l]) => h('option', { value: k }, l)));
    restart.value = v.restart || 'elsewhere';
    const groupSel = h('select', { id: `${p}-group` }, h('option', { value: '' }, 'any host'),
      Object.entries(data.groups || {}).map(([g, hosts]) => h('option', { value: g }, `${g} (${hosts.join(', ')})`)));
    groupSel.value = v.group || '';
    const err = h('p', { class: 'error-text', role: 'alert' });
    const save = h('button', { type: 'submit', class: 'primary' }, submitLabel);
    const form = h('form', {
      class: 'ha-settings', novalidate: true, 'aria-label': vmInput ? 'HA settings of another VM' : `HA settings of ${v.name || v.uuid}`,
      onsubmit: async (e) => {
        e.preventDefault();
        err.textContent = '';
        const ref = vmInput ? vmInput.value.trim() : v.uuid;
        if (!ref) { err.textContent = 'Enter the VM\u2019s name or UUID.'; vmInput.focus(); return; }
        // The range is the API's to check (its words are shown), but the
        // body needs a number.
        const n = Number(prio.value);
        if (prio.value.trim() === '' || !Number.isInteger(n)) {
          err.textContent = `Priority: enter a whole number from -${PRIORITY_MAX} to ${PRIORITY_MAX}.`;
          prio.focus();
          return;
        }
        const body = { ha: on.checked, priority: n, restart: restart.value, group: groupSel.value || null };
        if (busy) return;
        busy = true;
        save.disabled = true;
        try {
          const r = await api(`/vms/${enc(ref)}/ha`, { method: 'PUT', body });
          onsave(r, body);
        } catch (x) {
          if (x.name === 'AbortError') return;
          err.textContent = x.message;
          if (x.status === 400 && /^priority/.test(x.message)) prio.focus();
          else if (vmInput && x.status === 404) vmInput.focus();
        } finally {
          busy = false;
          save.disabled = false;
        }
      },
      onkeydown: (e) => { if (e.key === 'Escape' && oncancel) { e.preventDefault(); oncancel(); } },
    },
    h('div', { class: 'inline' },
      vmInput ? [h('label', { for: vmInput.id }, 'VM (name or UUID)'), vmInput] : null,
      h('span', { class: 'check' }, on, h('label', { for: `${p}-on` }, 'HA on')),
      h('label', { for: `${p}-priority` }, `Priority (-${PRIORITY_MAX} to ${PRIORITY_MAX}, higher first)`), prio,
      h('label', { for: `${p}-restart` }, 'Restart'), restart,
      h('label', { for: `${p}-group` }, 'Group'), groupSel,
      save,
      oncancel ? h('button', { type: 'button', onclick: oncancel }, 'Cancel') : null),
    err);
    return { form, focus: () => (vmInput || on).focus() };
  }

  function settingsSaid(r) {
    if (!r.ha) return `${r.name || r.uuid}: HA off, set over the API.`;
    return `${r.name || r.uuid}: HA on, set over the API: priority ${r.priority}, restart ${r.restart}, group ${r.group || 'any host'}.`;
  }

  async function resetVm(v) {
    const ok = await confirmDialog({
      title: `Reset the HA settings of ${v.name || v.uuid}?`,
      body: h('p', null, 'They go back to kanri.conf\u2019s ([ha] vm.NAME), or to none: then it is not an HA VM and is not restarted when its host fails. Recorded in the audit trail under your token.'),
      confirm: 'Reset to kanri.conf',
    });
    if (!ok || busy) return;
    busy = true;
    try {
      const r = await api(`/vms/${enc(v.uuid)}/ha`, { method: 'DELETE' });
      say(r.ha ? `${r.name || v.name}: HA settings are kanri.conf\u2019s again: priority ${r.priority}, restart ${r.restart}, group ${r.group || 'any host'}.`
        : `${r.name || v.name}: no HA settings in kanri.conf, so it is not an HA VM any more.`);
      if (editing === v.uuid) editing = null;
    } catch (e) {
      say(`Resetting the HA settings of ${v.name || v.uuid} failed: ${e.message}`);
    } finally {
      busy = false;
      await load();
      if (!focusKey(`edit-${v.uuid}`)) document.getElementById('ha-vms').focus();
    }
  }

  function vmRows(v, operator, ncols) {
    const name = v.name || v.uuid;
    const row = h('tr', { 'data-vm': v.name || v.uuid, 'data-uuid': v.uuid },
      h('th', { scope: 'row' }, h('a', { href: `#/vm/${enc(v.uuid)}` }, name)),
      h('td', null, hostCell(v.host)),
      h('td', null, v.state ? h('span', { class: `state state-${String(v.state).replace(/[^a-z-]/g, '')}` }, v.state) : '–'),
      h('td', { 'data-field': 'ha' }, v.ha ? 'on' : h('span', { class: 'muted' }, 'off')),
      h('td', { class: 'num', 'data-field': 'priority' }, String(v.priority ?? '–')),
      h('td', { 'data-field': 'restart' }, v.restart || '–'),
      h('td', { 'data-field': 'group' }, groupText(v.group, data.groups)),
      h('td', { 'data-field': 'source' }, v.source === 'api' ? h('span', { class: 'override' }, 'API') : v.source || '–'),
      h('td', { 'data-field': 'recovery' }, recoveryText(v.recovery)),
      operator ? h('td', null, h('div', { class: 'inline' },
        editing === v.uuid ? null : h('button', {
          type: 'button', 'data-key': `edit-${v.uuid}`,
          onclick: () => { editing = v.uuid; showVms(); },
        }, 'Edit', h('span', { class: 'visually-hidden' }, ` HA settings of ${name}`)),
        v.source === 'api' ? h('button', { type: 'button', 'data-key': `reset-${v.uuid}`, onclick: () => resetVm(v) },
          'Reset to kanri.conf', h('span', { class: 'visually-hidden' }, ` (${name})`)) : null)) : null);
    if (!operator || editing !== v.uuid) return [row];
    const close = () => { editing = null; showVms(); focusKey(`edit-${v.uuid}`); };
    const f = settingsForm(v, {
      onsave: (r) => {
        editing = null;
        say(settingsSaid(r));
        const i = data.vms.findIndex((x) => x.uuid === r.uuid);
        if (i >= 0) data.vms[i] = { ...data.vms[i], ...r };
        showVms();
        focusKey(`edit-${v.uuid}`);
        load();
      },
      oncancel: close,
    });
    setTimeout(f.focus, 0);
    return [row, h('tr', { class: 'detail' }, h('td', { colspan: ncols }, f.form))];
  }

  function showVms() {
    const operator = may('operator');
    const vms = [...(data.vms || [])].sort((a, b) => Number(b.ha) - Number(a.ha) || (b.priority ?? 0) - (a.priority ?? 0)
      || String(a.name || a.uuid).localeCompare(String(b.name || b.uuid), undefined, { numeric: true }));
    const cols = ['VM', 'Host', 'State', 'HA', 'Priority', 'Restart', 'Group', 'Settings from', 'Last recovery', operator ? 'Change' : null].filter(Boolean);
    if (editing && !vms.some((v) => v.uuid === editing)) editing = null;
    replace(vmsBox, h('div', { class: 'table-wrap' }, h('table', { class: 'data ha-vms' },
      h('caption', null, 'HA VMs (and VMs with a recovery on record), highest priority first'),
      h('thead', null, h('tr', null, cols.map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', null, vms.length ? vms.map((v) => vmRows(v, operator, cols.length))
        : h('tr', null, h('td', { colspan: cols.length, class: 'empty' },
          'No HA VM: kanri.conf\u2019s [ha] vm.NAME = on makes one, and so does an operator below.'))))));
  }

  // "Another VM": any VM of the fleet made an HA VM (or given settings)
  // over the API.
  function addForm() {
    const box = h('div');
    const el = h('section', { 'aria-labelledby': 'ha-add' }, h('h2', { id: 'ha-add' }, 'Set the HA settings of another VM'),
      h('p', { class: 'muted' }, 'Settings set here are kept by kanrid over kanri.conf\u2019s until reset.'), box);
    function show() {
      if (box.firstChild) return; // keep what is being typed
      const vmInput = h('input', { id: 'ha-new-vm', type: 'text', autocomplete: 'off', class: 'mono' });
      const f = settingsForm({ ha: true, priority: 0, restart: 'elsewhere', group: null }, {
        vmInput, submitLabel: 'Set',
        onsave: (r) => {
          say(settingsSaid(r));
          replace(box);
          show();
          load().then(() => focusKey(`edit-${r.uuid}`));
        },
      });
      replace(box, f.form);
    }
    return { el, show };
  }

  function render() {
    if (!data) return;
    showOverview();
    showHosts();
    if (!editing) showVms();
    if (adder) adder.show();
    stamp.textContent = `As of ${new Date().toLocaleTimeString()}`;
  }

  const load = () => loadInto(hostsBox, () => api('/ha', opt), (d) => {
    data = d;
    keepFocus(render);
    main.dataset.ready = 'true';
  });
  load();
  const refresh = throttle(() => { if (!busy) load(); }, 2000);
  return {
    onLive: (type, d) => {
      if (type === 'reset' || type === 'round' || (type === 'event' && /^(ha|policy|host|vm)\./.test(d.kind || ''))) refresh();
    },
    dispose: () => ctl.abort(),
  };
}
