// kanri-guestd agents: who reports, how late, how much was refused; and
// enrolment, whose token is shown once.

import { h, replace, throttle } from '../dom.js';
import { api, may } from '../api.js';
import { time, num } from '../format.js';
import { dataTable } from '../table.js';
import { errorBox } from './common.js';

export function agentsPage(main) {
  const ctl = new AbortController();
  const table = dataTable({
    caption: 'Enrolled agents', filterLabel: 'Filter agents', initialSort: { key: 'name', dir: 1 },
    columns: [
      { key: 'name', label: 'Machine', value: (r) => r.vm || r.name || r.machine_uuid,
        render: (r) => (r.vm ? h('a', { href: `#/vm/${encodeURIComponent(r.machine_uuid)}` }, r.vm) : (r.name || r.machine_uuid)) },
      { key: 'host', label: 'Host', value: (r) => r.host },
      { key: 'agent', label: 'Agent', value: (r) => (r.agent_name ? `${r.agent_name} ${r.agent_version || ''}` : 'not heard from yet') },
      { key: 'contact', label: 'Last contact', value: (r) => r.last_contact, render: (r) => time(r.last_contact) },
      { key: 'lag', label: 'Lag (s)', numeric: true, value: (r) => r.lag_seconds, render: (r) => num(r.lag_seconds) },
      { key: 'accepted', label: 'Accepted', numeric: true, value: (r) => r.accepted },
      { key: 'rejected', label: 'Rejected', numeric: true, value: (r) => r.rejected },
      { key: 'error', label: 'Last error', value: (r) => r.last_error },
    ],
  });
  const region = h('section', { 'aria-label': 'Agents' }, table.el);
  const enrol = h('section', { 'aria-label': 'Enrol' });
  replace(main, h('h1', null, 'Agents'),
    h('p', { class: 'muted' }, 'kanri-guestd runs inside a guest and pushes its figures to kanrid with a token bound to that one machine.'),
    enrol, region);
  let err = null;
  const load = () => api('/agents', { signal: ctl.signal }).then((d) => {
    if (err) { err.remove(); err = null; }
    table.update(d.agents);
    main.dataset.ready = 'true';
  }).catch((e) => {
    if (e.name === 'AbortError') return;
    if (err) err.remove();
    err = errorBox(e, load);
    region.prepend(err);
  });

  if (may('operator')) {
    const machine = h('input', { id: 'enrol-machine', required: true, placeholder: 'VM name, HOST:NAME or UUID' });
    const label = h('input', { id: 'enrol-name', placeholder: 'optional' });
    const out = h('div', { role: 'status', 'aria-live': 'polite' });
    replace(enrol, h('h2', null, 'Enrol a machine'), h('form', {
      class: 'inline',
      onsubmit: async (e) => {
        e.preventDefault();
        replace(out);
        try {
          const body = { machine: machine.value.trim() };
          if (label.value.trim()) body.name = label.value.trim();
          const r = await api('/agents', { method: 'POST', body });
          const tok = h('input', { id: 'enrol-token', readonly: true, value: r.token, class: 'mono wide' });
          replace(out, h('div', { class: 'once' },
            h('p', null, h('strong', null, 'Shown once: '), `the token for ${r.name} (${r.machine_uuid}). Copy it into the guest\u2019s kanri-guestd configuration now; kanrid keeps only its hash.`),
            h('label', { for: 'enrol-token' }, 'Agent token'), tok,
            h('button', { type: 'button', onclick: async () => { tok.select(); try { await navigator.clipboard.writeText(r.token); } catch { document.execCommand('copy'); } } }, 'Copy')));
          load();
        } catch (x) { replace(out, errorBox(x)); }
      },
    }, h('label', { for: 'enrol-machine' }, 'Machine'), machine, h('label', { for: 'enrol-name' }, 'Label'), label,
    h('button', { type: 'submit', class: 'primary' }, 'Enrol')), out);
  }
  load();
  const refresh = throttle(load, 2000);
  return { onLive: (t, d) => { if (t === 'reset' || (t === 'event' && String(d.kind || '').startsWith('agent.'))) refresh(); }, dispose: () => ctl.abort() };
}
