// The policies' decisions: what each one saw (its inputs, with provenance
// and age), the rule that fired, what it did or would have done, the effect
// it expected and the effect seen one round later.  The same rows on the
// Decisions page and on a VM's page.

import { h, replace, clear, uid, throttle } from '../dom.js';
import { api } from '../api.js';
import { bytes, rate, pct, num, time, age } from '../format.js';
import { errorBox, stateBadge } from './common.js';

const enc = encodeURIComponent;

export function plural(n, word) {
  const k = n || 0;
  return `${k} ${word}${k === 1 ? '' : 's'}`;
}

// One figure of a decision's inputs, expected or observed effect, in the
// unit its name says (the vocabulary of docs/policies.md): percentages,
// bytes per second, bytes, seconds, cores.
export function figure(key, v) {
  if (v === null || v === undefined) return '–';
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (typeof v !== 'number') return String(v);
  const k = key.toLowerCase();
  if (/pct|percent|spread|share/.test(k)) return pct(v);
  if (/bytes_s|per_s|swap|rate|bandwidth/.test(k)) return rate(v);
  if (/bytes|mem|memory|balloon|previous|free|total|used|reserve/.test(k)) return bytes(v);
  if (/(^|_)(age|cost|cooldown)|_s$|_us$|seconds/.test(k)) return k.endsWith('_us') ? `${num(v / 1e6, 1)} s` : `${num(v, v < 10 ? 1 : 0)} s`;
  if (/cpu|core|demand/.test(k)) return `${num(v, 2)} cores`;
  return Number.isInteger(v) ? String(v) : num(v, 2);
}

// An object as key/value lines; an input {value, provenance, age_s} on one
// line ("1.5 GiB — guest, 4 s old"), nested objects indented.
export function kvList(obj) {
  if (obj === null || obj === undefined) return h('p', { class: 'muted' }, '–');
  if (typeof obj !== 'object') return h('p', null, String(obj));
  const keys = Object.keys(obj);
  if (!keys.length) return h('p', { class: 'muted' }, 'Nothing.');
  return h('dl', { class: 'kv' }, keys.map((k) => {
    const v = obj[k];
    let dd;
    if (v && typeof v === 'object' && !Array.isArray(v) && 'value' in v) {
      const { value, provenance, age_s: ageS, ...rest } = v;
      const how = [provenance, ageS !== undefined && ageS !== null ? `${age(ageS)} old` : null].filter(Boolean).join(', ');
      const more = Object.entries(rest).map(([rk, rv]) => `${rk} ${typeof rv === 'object' ? JSON.stringify(rv) : figure(rk, rv)}`);
      dd = h('dd', null, figure(k, value), how ? h('span', { class: 'muted' }, ` — ${how}`) : null,
        more.length ? h('span', { class: 'muted' }, ` (${more.join('; ')})`) : null);
    } else if (v && typeof v === 'object' && !Array.isArray(v)) {
      dd = h('dd', null, kvList(v));
    } else if (Array.isArray(v)) {
      dd = h('dd', null, v.length ? v.map((x) => (x && typeof x === 'object' ? JSON.stringify(x) : figure(k, x))).join(', ') : '–');
    } else {
      dd = h('dd', null, figure(k, v));
    }
    return [h('dt', { class: 'mono' }, k), dd];
  }));
}

// "set memory to 1.5 GiB (was 2 GiB)", "migrate to node2", "no action".
export function actionText(d) {
  const p = d.params || d;
  if (d.action === 'set-memory') {
    return `set memory to ${bytes(p.memory_bytes)}` + (p.previous_bytes !== undefined && p.previous_bytes !== null ? ` (was ${bytes(p.previous_bytes)})` : '');
  }
  if (d.action === 'migrate') return `migrate to ${p.to_host || d.to_host || '?'}`;
  return 'no action';
}

const VERDICTS = {
  ok: 'ok: it had the effect expected',
  'no-effect': 'no effect',
  worse: 'worse: undone, and the policy paused for this VM',
};

const STATES = {
  recorded: 'recorded (nothing to do, or recommend mode: nothing was done)',
  pending: 'pending: being done',
  done: 'done',
  failed: 'failed',
  undone: 'undone',
};

export function verdictBadge(v) {
  if (!v) return h('span', { class: 'muted' }, '–');
  return h('span', { class: `verdict verdict-${String(v).replace(/[^a-z-]/g, '')}` }, v);
}

export function vmCell(d) {
  if (!d.vm && !d.vm_uuid) return h('span', { class: 'muted' }, 'host-wide');
  return d.vm_uuid ? h('a', { href: `#/vm/${enc(d.vm_uuid)}` }, d.vm || d.vm_uuid) : d.vm;
}

export function hostCell(name) {
  return name ? h('a', { href: `#/host/${enc(name)}` }, name) : '–';
}

function policyText(d) {
  return d.policy + (d.mode ? ` (${d.mode})` : '') + (d.evacuation ? ', evacuation' : '');
}

function detail(d) {
  const observed = d.observed
    ? kvList(d.observed)
    : h('p', { class: 'muted' }, d.state === 'done' || d.state === 'pending' ? 'Not observed yet: it is seen one round after the action.'
      : d.action === 'none' || d.state === 'recorded' ? 'Nothing was done, so there is nothing to observe.'
        : 'Not observed.');
  return h('div', { class: 'decision-detail' },
    h('p', null, d.reason || ''),
    h('div', { class: 'detail-grid' },
      h('div', null, h('p', { class: 'detail-title' }, 'Inputs (value — provenance, age)'), kvList(d.inputs)),
      h('div', null, h('p', { class: 'detail-title' }, 'Effect expected'),
        d.expected ? kvList(d.expected) : h('p', { class: 'muted' }, 'None: no action.')),
      h('div', null, h('p', { class: 'detail-title' }, `Effect observed${d.observed_time ? ` at ${time(d.observed_time)}` : ''}`), observed)),
    h('dl', { class: 'facts' },
      h('dt', null, 'Rule'), h('dd', { class: 'mono' }, d.rule || '–'),
      h('dt', null, 'Policy'), h('dd', null, policyText(d)),
      h('dt', null, 'Action'), h('dd', null, actionText(d)),
      h('dt', null, 'State'), h('dd', null, STATES[d.state] || d.state || '–', d.error ? `: ${d.error}` : ''),
      h('dt', null, 'Verdict'), h('dd', null, d.verdict ? VERDICTS[d.verdict] || d.verdict : 'none yet'),
      d.audit_id !== null && d.audit_id !== undefined
        ? [h('dt', null, 'Audit entry'), h('dd', null, h('a', { href: '#/audit' }, `#${d.audit_id}`), ' in the audit trail (actor ', h('span', { class: 'mono' }, `policy:${d.policy}`), ')')]
        : null,
      h('dt', null, 'Decision'), h('dd', null, `#${d.id}, ${time(d.time)}`)),
    h('details', null, h('summary', null, 'As JSON'), h('pre', { class: 'diff' }, JSON.stringify(d, null, 2))));
}

// The decisions as a table, each row expandable (a button with
// aria-expanded) to its inputs, expected and observed effect.  update()
// keeps the rows open and the focus where they were.
export function decisionsTable({ caption, empty = 'No decision recorded.', showVm = true }) {
  const open = new Set();
  const cols = ['When', 'Policy', showVm ? 'VM' : null, 'Host', 'Action', 'State', 'Verdict', 'Why'].filter(Boolean);
  const table = h('table', { class: 'data decisions' }, h('caption', null, caption),
    h('thead', null, h('tr', null, h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Details')),
      cols.map((t) => h('th', { scope: 'col' }, t)))));
  const el = h('div', { class: 'table-wrap' }, table);
  let bodies = [];

  function row(d) {
    const id = uid('decision');
    const isOpen = open.has(d.id);
    const more = h('tr', { id, class: 'detail', hidden: !isOpen }, h('td', { colspan: cols.length + 1 }, isOpen ? detail(d) : null));
    const btn = h('button', {
      type: 'button', class: 'expand', 'aria-expanded': isOpen ? 'true' : 'false', 'aria-controls': id, 'data-key': `decision-${d.id}`,
      onclick: () => {
        const now = btn.getAttribute('aria-expanded') !== 'true';
        btn.setAttribute('aria-expanded', now ? 'true' : 'false');
        btn.firstChild.textContent = now ? '▾' : '▸';
        if (now) { open.add(d.id); replace(more.firstChild, detail(d)); } else open.delete(d.id);
        more.hidden = !now;
      },
    }, h('span', { 'aria-hidden': 'true' }, isOpen ? '▾' : '▸'), h('span', { class: 'visually-hidden' }, `Details of decision ${d.id}`));
    return h('tbody', { 'data-id': d.id },
      h('tr', { class: `decision action-${d.action}` },
        h('td', null, btn),
        h('td', null, time(d.time)),
        h('td', null, policyText(d)),
        showVm ? h('td', null, vmCell(d)) : null,
        h('td', null, hostCell(d.host)),
        h('td', null, actionText(d)),
        h('td', null, stateBadge(d.state || '–'), d.error ? h('div', { class: 'reason' }, d.error) : null),
        h('td', null, verdictBadge(d.verdict)),
        h('td', { class: 'reason' }, d.reason || '')),
      more);
  }

  function update(rows) {
    const focused = document.activeElement && table.contains(document.activeElement) ? document.activeElement.dataset.key : null;
    for (const b of bodies) b.remove();
    const ids = new Set(rows.map((d) => d.id));
    for (const k of [...open]) if (!ids.has(k)) open.delete(k);
    bodies = rows.length ? rows.map(row)
      : [h('tbody', null, h('tr', null, h('td', { colspan: cols.length + 1, class: 'empty' }, empty)))];
    for (const b of bodies) table.appendChild(b);
    if (focused) {
      const again = table.querySelector(`[data-key="${focused}"]`);
      if (again) again.focus();
    }
  }

  return { el, update };
}

const POLICIES = [['', 'Any policy'], ['memory', 'memory'], ['balance', 'balance'], ['maintenance', 'maintenance']];
const ACTIONS = [['', 'With an action'], ['any', 'Any, including no action'], ['set-memory', 'set-memory'], ['migrate', 'migrate']];

// Every decision of every policy, newest first, a page at a time.
export function decisionsPage(main) {
  const ctl = new AbortController();
  const opt = { signal: ctl.signal };
  const LIMIT = 100;
  const table = decisionsTable({ caption: 'Policy decisions, newest first', empty: 'No decision recorded with these filters.' });
  const count = h('p', { class: 'muted', role: 'status', 'aria-live': 'polite' });
  const more = h('div', { class: 'more' });
  const region = h('section', { 'aria-label': 'Decisions' }, table.el, more);
  let first = [];
  let older = [];
  let next = null;
  let err = null;
  let shown = null;
  const sel = (id, choices) => h('select', { id }, choices.map(([v, l]) => h('option', { value: v }, l)));
  const policySel = sel('dec-policy', POLICIES);
  const actionSel = sel('dec-action', ACTIONS);
  const vmInput = h('input', { id: 'dec-vm', type: 'search', placeholder: 'name or UUID', autocomplete: 'off' });
  const form = h('form', {
    class: 'inline filters', role: 'search', 'aria-label': 'Filter decisions',
    onsubmit: (e) => { e.preventDefault(); older = []; next = null; shown = null; load(); },
  },
  h('label', { for: 'dec-policy' }, 'Policy'), policySel,
  h('label', { for: 'dec-action' }, 'Action'), actionSel,
  h('label', { for: 'dec-vm' }, 'VM'), vmInput,
  h('button', { type: 'submit' }, 'Show'));
  replace(main, h('h1', null, 'Policy decisions'),
    h('p', { class: 'muted' }, 'What each policy decided, round by round: the inputs it used, the rule that fired, what it did (enforce) or would have done (recommend), and the effect seen one round later. Open a row for the details.'),
    form, count, region);

  function path(cursor) {
    const q = [`limit=${LIMIT}`];
    if (policySel.value) q.push(`policy=${enc(policySel.value)}`);
    if (actionSel.value) q.push(`action=${enc(actionSel.value)}`);
    if (vmInput.value.trim()) q.push(`vm=${enc(vmInput.value.trim())}`);
    if (cursor) q.push(`cursor=${enc(cursor)}`);
    return `/decisions?${q.join('&')}`;
  }

  function show() {
    const ids = new Set(first.map((d) => d.id));
    const rows = first.concat(older.filter((d) => !ids.has(d.id)));
    const sig = JSON.stringify([rows, next]);
    if (sig === shown) return; // a live refresh that changed nothing
    shown = sig;
    table.update(rows);
    const text = `${plural(rows.length, 'decision')} shown${next ? '; older ones remain' : ''}.`;
    if (count.textContent !== text) count.textContent = text;
    clear(more);
    if (next) {
      more.appendChild(h('button', {
        type: 'button', onclick: () => {
          api(path(next), opt).then((d) => {
            const got = d.decisions || [];
            older = older.concat(got);
            next = d.next_cursor || null;
            show();
            // The keyboard goes on from the first of the older rows.
            const at = got.length ? table.el.querySelector(`[data-key="decision-${got[0].id}"]`) : null;
            if (at) at.focus();
          }).catch(fail(null));
        },
      }, 'Show older decisions'));
    }
  }

  function fail(retry) {
    return (e) => {
      if (e.name === 'AbortError') return;
      if (err) err.remove();
      err = errorBox(e, retry);
      region.prepend(err);
    };
  }

  function load() {
    return api(path(null), opt).then((d) => {
      if (err) { err.remove(); err = null; }
      first = d.decisions || [];
      if (!older.length) next = d.next_cursor || null;
      show();
      main.dataset.ready = 'true';
    }).catch(fail(load));
  }
  load();
  const refresh = throttle(load, 5000);
  return {
    onLive: (type, d) => {
      if (type === 'reset' || type === 'round' || (type === 'event' && /^(policy|host\.maintenance)\./.test(d.kind || ''))) refresh();
    },
    dispose: () => ctl.abort(),
  };
}
