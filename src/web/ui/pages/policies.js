// The autonomic policies: the kill switch, each policy's mode and settings
// (kanri.conf's, or set over the API), the VMs a policy paused itself for,
// the hosts in maintenance, and a dry run over the recorded rounds.

import { h, replace, clear, throttle } from '../dom.js';
import { api, may } from '../api.js';
import { bytes, time } from '../format.js';
import { loadInto, errorBox, confirmDialog } from './common.js';
import { actionText, vmCell, hostCell, plural } from './decisions.js';

const enc = encodeURIComponent;

const TITLES = {
  memory: 'Memory: the balloon manager',
  balance: 'Balancing and maintenance evacuation',
};
const MODES = ['off', 'recommend', 'enforce'];
const MODE_WORDS = {
  off: 'decides nothing',
  recommend: 'decides every round and records what it would do; it does nothing',
  enforce: 'decides every round and acts, through the audited actions',
};

function title(name) {
  return TITLES[name] || name;
}

// Runs FN (which rebuilds part of the page) and gives the focus back to the
// element with the same data-key, when the focus was on one.
function keepFocus(fn) {
  const key = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.key : null;
  fn();
  if (key) {
    const again = document.querySelector(`main [data-key="${CSS.escape(key)}"]`);
    if (again) again.focus();
  }
}

export function policiesPage(main) {
  const ctl = new AbortController();
  const opt = { signal: ctl.signal };
  const status = h('p', { class: 'action-status', role: 'status', 'aria-live': 'polite' });
  const region = h('div');
  const sim = dryRun(opt);
  replace(main, h('h1', null, 'Policies'),
    h('p', { class: 'muted' }, 'kanri\u2019s autonomic policies. In recommend mode a policy decides every round and only records it; in enforce mode it also acts, through the same audited actions as people (actor ',
      h('span', { class: 'mono' }, 'policy:NAME'), '). Every decision, with its inputs and effect, is on the ', h('a', { href: '#/decisions' }, 'Decisions'), ' page.'),
    status, region, sim.el);

  let data = null;
  let editing = null; // {policy, key} while a setting is being edited inline
  let busy = false;

  function say(text) { status.textContent = text; }

  async function patch(name, settings) {
    return api(`/policies/${enc(name)}`, { method: 'PATCH', body: { settings } });
  }

  // The reply to PATCH /policies/NAME: the policy (with "enabled").
  function merge(reply) {
    const p = reply.policy || reply;
    if (typeof reply.enabled === 'boolean') data.enabled = reply.enabled;
    const i = data.policies.findIndex((x) => x.name === p.name);
    if (i >= 0) data.policies[i] = p;
    else data.policies.push(p);
  }

  async function act(what, fn) {
    if (busy) return;
    busy = true;
    try {
      await fn();
    } catch (e) {
      say(`${what} failed: ${e.message}`);
    } finally {
      busy = false;
    }
  }

  async function killSwitch() {
    const stop = data.enabled;
    const ok = await confirmDialog({
      title: stop ? 'Stop all policies?' : 'Start the policies again?',
      danger: stop,
      body: h('p', null, stop
        ? 'No policy decides or acts until they are started again, whatever its mode: balloons stay as they are, no VM is moved, and hosts in maintenance are not evacuated. Recorded in the audit trail under your token.'
        : 'Each policy decides again in its own mode (enforce mode acts). Recorded in the audit trail under your token.'),
      confirm: stop ? 'Stop all policies' : 'Start policies',
    });
    if (!ok) return;
    await act(stop ? 'Stopping the policies' : 'Starting the policies', async () => {
      const r = await patch('all', { enabled: stop ? 'no' : 'yes' });
      if (r && Array.isArray(r.policies)) data = r;
      else data.enabled = !stop;
      say(stop ? 'All policies are stopped.' : 'The policies run again, each in its mode.');
      keepFocus(render);
    });
  }

  async function changeMode(p, select) {
    const mode = select.value;
    if (mode === p.mode) { say(`The ${p.name} policy is already in ${mode} mode.`); return; }
    const ok = await confirmDialog({
      title: `Set the ${p.name} policy to ${mode}?`,
      danger: mode === 'enforce',
      body: h('p', null, `In ${mode} mode it ${MODE_WORDS[mode]}. This is set over the API and wins over kanri.conf until reset. Recorded in the audit trail under your token.`),
      confirm: 'Change mode',
    });
    if (!ok) { select.value = p.mode; return; }
    await act(`Changing the ${p.name} policy\u2019s mode`, async () => {
      merge(await patch(p.name, { mode }));
      say(`The ${p.name} policy is now in ${mode} mode.`);
      keepFocus(render);
    });
    if (select.isConnected) select.value = p.mode; // refused: back to the mode in force
  }

  async function saveSetting(p, key, input, err) {
    const value = input.value.trim();
    if (!value) { err.textContent = 'Enter a value, or cancel.'; input.focus(); return; }
    if (busy) return;
    busy = true;
    try {
      merge(await patch(p.name, { [key]: value }));
      editing = null;
      say(`${p.name}: ${key} set to ${value} over the API.`);
      render();
      const back = document.querySelector(`main [data-key="${CSS.escape(`edit-${p.name}-${key}`)}"]`);
      if (back) back.focus();
    } catch (e) {
      err.textContent = e.message;
      input.focus();
    } finally {
      busy = false;
    }
  }

  async function resetSetting(p, key) {
    const ok = await confirmDialog({
      title: `Reset ${key} of the ${p.name} policy?`,
      body: h('p', null, `It goes back to kanri.conf\u2019s value (or the default), ${p.overridden[key]} now. Recorded in the audit trail under your token.`),
      confirm: 'Reset',
    });
    if (!ok) return;
    await act(`Resetting ${key}`, async () => {
      merge(await patch(p.name, { [key]: null }));
      const now = data.policies.find((x) => x.name === p.name);
      say(`${p.name}: ${key} is kanri.conf\u2019s again${now && now.settings[key] !== undefined ? `: ${now.settings[key]}` : ''}.`);
      keepFocus(render);
    });
  }

  async function resume(p, x) {
    const vm = x.vm || x.vm_uuid;
    const ok = await confirmDialog({
      title: `Let the ${p.name} policy act on ${vm} again?`,
      body: h('p', null, `The ${p.name} policy paused itself for ${vm} after one of its actions made things worse. Resumed, it decides for it again in its mode. Recorded in the audit trail under your token.`),
      confirm: 'Resume',
    });
    if (!ok) return;
    await act(`Resuming ${p.name} on ${vm}`, async () => {
      await api(`/policies/${enc(p.name)}/paused/${enc(x.vm_uuid || x.vm)}`, { method: 'DELETE' });
      say(`The ${p.name} policy acts on ${vm} again.`);
      p.paused = (p.paused || []).filter((y) => y !== x);
      render();
      // Its button is gone: the focus goes to the policy's heading.
      const head = document.getElementById(`policy-${p.name}`);
      if (head) { head.tabIndex = -1; head.focus(); }
      load();
    });
  }

  function settingRow(p, key) {
    const value = p.settings[key];
    const over = p.overridden && Object.prototype.hasOwnProperty.call(p.overridden, key);
    const admin = may('admin');
    const isEditing = editing && editing.policy === p.name && editing.key === key;
    let valueCell;
    if (isEditing) {
      const id = `set-${p.name}-${key}`;
      const err = h('span', { class: 'error-text', role: 'alert' });
      const input = h('input', { id, type: 'text', value: value ?? '', autocomplete: 'off', class: 'mono' });
      valueCell = h('td', null, h('form', {
        class: 'inline',
        onsubmit: (e) => { e.preventDefault(); saveSetting(p, key, input, err); },
        onkeydown: (e) => { if (e.key === 'Escape') { e.preventDefault(); editing = null; keepFocusOn(`edit-${p.name}-${key}`); } },
      }, h('label', { for: id, class: 'visually-hidden' }, `New value of ${key} (${p.name} policy)`), input,
      h('button', { type: 'submit', class: 'primary' }, 'Save'),
      h('button', { type: 'button', onclick: () => { editing = null; keepFocusOn(`edit-${p.name}-${key}`); } }, 'Cancel'), err));
      setTimeout(() => { input.focus(); input.select(); }, 0);
    } else {
      valueCell = h('td', { class: 'mono' }, value ?? '–');
    }
    return h('tr', null,
      h('th', { scope: 'row', class: 'mono' }, key),
      valueCell,
      h('td', null, over ? h('span', { class: 'override' }, 'set over the API') : h('span', { class: 'muted' }, 'kanri.conf or default')),
      admin ? h('td', null, isEditing ? null : [
        h('button', { type: 'button', 'data-key': `edit-${p.name}-${key}`, onclick: () => { editing = { policy: p.name, key }; render(); } },
          'Edit', h('span', { class: 'visually-hidden' }, ` ${key}`)),
        over ? [' ', h('button', { type: 'button', 'data-key': `reset-${p.name}-${key}`, onclick: () => resetSetting(p, key) },
          'Reset', h('span', { class: 'visually-hidden' }, ` ${key} to kanri.conf\u2019s`))] : null]) : null);
  }

  function keepFocusOn(key) {
    render();
    const el = document.querySelector(`main [data-key="${CSS.escape(key)}"]`);
    if (el) el.focus();
  }

  function policyCard(p) {
    const hid = `policy-${p.name}`;
    const keys = Object.keys(p.settings || {}).filter((k) => k !== 'mode');
    const admin = may('admin');
    let modeControl = null;
    if (admin) {
      const sid = `mode-${p.name}`;
      const select = h('select', { id: sid, 'data-key': `mode-${p.name}` }, MODES.map((m) => h('option', { value: m }, m)));
      select.value = p.mode;
      modeControl = h('div', { class: 'inline' },
        h('label', { for: sid }, `Mode of the ${p.name} policy`), select,
        h('button', { type: 'button', 'data-key': `mode-apply-${p.name}`, onclick: () => changeMode(p, select) }, 'Change mode…'));
    }
    const paused = p.paused || [];
    return h('section', { class: 'policy-card', 'data-policy': p.name, 'aria-labelledby': hid },
      h('h2', { id: hid }, title(p.name)),
      h('p', null, 'Mode: ', h('strong', { 'data-field': 'mode' }, p.mode), ` — it ${MODE_WORDS[p.mode] || ''}`,
        p.overridden && p.overridden.mode !== undefined ? ' (set over the API)' : '',
        data.enabled || p.mode === 'off' ? '.' : '; stopped now, like every policy, by the kill switch.'),
      modeControl,
      h('h3', null, 'Settings'),
      h('div', { class: 'table-wrap' }, h('table', { class: 'data settings' },
        h('caption', null, `Settings of the ${p.name} policy in force`),
        h('thead', null, h('tr', null, ['Setting', 'Value', 'Where from', admin ? 'Change' : null].filter(Boolean).map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', null, keys.length ? keys.map((k) => settingRow(p, k))
          : h('tr', null, h('td', { colspan: admin ? 4 : 3, class: 'empty' }, 'No setting besides the mode.'))))),
      h('h3', null, 'Paused for'),
      paused.length
        ? h('ul', { class: 'paused' }, paused.map((x) => h('li', null, vmCell(x),
          ' — paused after one of its actions made things worse.',
          may('operator') ? [' ', h('button', { type: 'button', 'data-key': `resume-${p.name}-${x.vm_uuid}`, onclick: () => resume(p, x) },
            'Resume', h('span', { class: 'visually-hidden' }, ` the ${p.name} policy on ${x.vm || x.vm_uuid}`))] : null)))
        : h('p', null, 'No VM: it acts on every one.'));
  }

  function render() {
    if (!data) return;
    const admin = may('admin');
    const maint = data.maintenance || [];
    replace(region,
      h('section', { class: 'policy-card', 'aria-labelledby': 'policies-all' },
        h('h2', { id: 'policies-all' }, 'All policies'),
        h('p', { 'data-field': 'enabled' }, data.enabled
          ? h('span', null, h('span', { class: 'state state-running' }, 'running'), ' Each policy decides in its own mode.')
          : h('span', null, h('span', { class: 'state state-stopped' }, 'stopped'), ' The kill switch is on: no policy decides or acts, whatever its mode.')),
        admin ? h('div', { class: 'actions' }, h('button', {
          type: 'button', class: data.enabled ? 'danger' : 'primary', 'data-key': 'kill-switch', onclick: killSwitch,
        }, data.enabled ? 'Stop all policies…' : 'Start policies again…')) : null),
      h('section', { 'aria-labelledby': 'policies-maint' },
        h('h2', { id: 'policies-maint' }, 'Hosts in maintenance'),
        maint.length
          ? h('ul', null, maint.map((n) => h('li', null, hostCell(n))))
          : h('p', null, 'None. An operator puts a host in maintenance from its page; its VMs are then evacuated.')),
      data.policies.map(policyCard));
    sim.setPolicies(data.policies.map((p) => p.name));
  }

  const load = () => loadInto(region, () => api('/policies', opt), (d) => {
    data = d;
    if (!editing) keepFocus(render);
    main.dataset.ready = 'true';
  });
  load();
  api('/hosts?fields=name', opt).then((r) => sim.setHosts(r.hosts.map((x) => x.name))).catch(() => {});
  const refresh = throttle(() => { if (!busy) load(); }, 1000);
  return {
    onLive: (type, d) => {
      if (type === 'reset' || (type === 'event' && /^(policy|host\.maintenance)\./.test(d.kind || ''))) refresh();
    },
    dispose: () => ctl.abort(),
  };
}

// "key = value" lines, for the settings a dry run tries.
function parseSettings(text) {
  const out = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    const i = line.indexOf('=');
    if (i <= 0) throw new Error(`“${line}” is not “key = value”.`);
    out[line.slice(0, i).trim()] = line.slice(i + 1).trim();
  }
  return out;
}

// The dry run's result in words.
export function simSummary(r, tried) {
  const s = r.summary || {};
  const span = `from ${time(r.from)} to ${time(r.to)}`;
  const with_ = tried ? ` with ${tried}` : '';
  if (!r.rounds) return `There is no recorded round ${span}: nothing to replay.`;
  const parts = [];
  if (r.policy === 'memory' || s.reclaimed_bytes || s.given_back_bytes) {
    parts.push(`reclaiming ${bytes(s.reclaimed_bytes || 0)} from guests`, `giving back ${bytes(s.given_back_bytes || 0)}`);
  }
  if (r.policy === 'balance' || s.migrations) parts.push(plural(s.migrations, 'migration'));
  let text = `Replayed over ${plural(r.rounds, 'recorded round')} ${span}${with_}, the ${r.policy} policy would have taken ${plural(s.actions, 'action')}`
    + (parts.length ? ` (${parts.join(', ')}).` : '.');
  const none = Object.entries(s.no_action || {}).sort((a, b) => b[1] - a[1]);
  if (none.length) {
    const total = none.reduce((n, [, c]) => n + c, 0);
    text += ` It would have done nothing ${total === 1 ? 'once' : `${total} times`}: ${none.map(([rule, c]) => `${rule} ${c}`).join(', ')}.`;
  }
  return text;
}

// The dry-run form: a policy replayed over the recorded rounds of a window,
// with the settings in force or others to try; nothing is done.
function dryRun(opt) {
  const policySel = h('select', { id: 'sim-policy' }, ['memory', 'balance'].map((p) => h('option', { value: p }, p)));
  const from = h('input', { id: 'sim-from', type: 'text', value: '24h', required: true, autocomplete: 'off', size: 22 });
  const to = h('input', { id: 'sim-to', type: 'text', placeholder: 'now', autocomplete: 'off', size: 22 });
  const hostSel = h('select', { id: 'sim-host' }, h('option', { value: '' }, 'All hosts'));
  const settings = h('textarea', { id: 'sim-settings', rows: 2, cols: 30, class: 'mono', placeholder: 'target_pct = 20' });
  const run = h('button', { type: 'submit', class: 'primary' }, 'Run dry run');
  const summary = h('p', { class: 'sim-summary', role: 'status', 'aria-live': 'polite' });
  const result = h('div');
  const el = h('section', { class: 'dry-run', 'aria-labelledby': 'sim-title' },
    h('h2', { id: 'sim-title' }, 'Dry run'),
    h('p', { class: 'muted' }, 'Replays a policy over the recorded rounds of a time window and says what it would have done. Nothing is done and nothing is recorded.'),
    h('form', {
      class: 'inline sim',
      onsubmit: async (e) => {
        e.preventDefault();
        const body = { from: from.value.trim() || '24h' };
        if (to.value.trim()) body.to = to.value.trim();
        if (hostSel.value) body.host = hostSel.value;
        let tried = '';
        try {
          const s = parseSettings(settings.value);
          if (Object.keys(s).length) {
            body.settings = s;
            tried = Object.entries(s).map(([k, v]) => `${k} = ${v}`).join(', ');
          }
        } catch (x) {
          summary.textContent = `Settings to try: ${x.message}`;
          return;
        }
        run.disabled = true;
        clear(result);
        summary.textContent = `Replaying the ${policySel.value} policy…`;
        try {
          const r = await api(`/policies/${enc(policySel.value)}/simulate`, { method: 'POST', body, signal: opt.signal });
          summary.textContent = simSummary(r, tried);
          const ds = r.decisions || [];
          replace(result,
            r.truncated ? h('p', null, `Only the first ${plural(ds.length, 'decision')} are listed; the summary counts them all.`) : null,
            ds.length ? simTable(ds) : null);
        } catch (x) {
          if (x.name === 'AbortError') return;
          summary.textContent = '';
          replace(result, errorBox(x));
        } finally {
          run.disabled = false;
        }
      },
    },
    h('label', { for: 'sim-policy' }, 'Policy'), policySel,
    h('label', { for: 'sim-from' }, 'From'), from,
    h('label', { for: 'sim-to' }, 'To'), to,
    h('label', { for: 'sim-host' }, 'Host'), hostSel,
    h('label', { for: 'sim-settings' }, 'Settings to try (optional, key = value a line)'), settings,
    run),
    h('p', { class: 'muted hint' }, 'From and to: a duration ago (1h, 24h, 7d), an RFC 3339 time or epoch seconds.'),
    summary, result);

  return {
    el,
    setPolicies(names) {
      const cur = policySel.value;
      if (names.join() === [...policySel.options].map((o) => o.value).join()) return;
      replace(policySel, names.map((p) => h('option', { value: p }, p)));
      if (names.includes(cur)) policySel.value = cur;
    },
    setHosts(names) {
      const cur = hostSel.value;
      replace(hostSel, h('option', { value: '' }, 'All hosts'), names.map((n) => h('option', { value: n }, n)));
      hostSel.value = names.includes(cur) ? cur : '';
    },
  };
}

function simTable(ds) {
  return h('div', { class: 'table-wrap' }, h('table', { class: 'data sim-decisions' },
    h('caption', null, 'What it would have decided, round by round'),
    h('thead', null, h('tr', null, ['When', 'VM', 'Host', 'Rule', 'Action', 'Why'].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', null, ds.map((d) => h('tr', null,
      h('td', null, time(d.time)),
      h('td', null, vmCell(d)),
      h('td', null, hostCell(d.host)),
      h('td', { class: 'mono' }, d.rule || '–'),
      h('td', null, actionText(d)),
      h('td', { class: 'reason' }, d.reason || ''))))));
}
