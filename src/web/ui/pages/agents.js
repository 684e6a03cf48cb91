// kanri-guestd agents: who reports, how late, how much was refused, each
// linked to its machine's page (and its VM's, for a VM kanri manages); and
// enrolment, whose token is shown once.

import { h, replace } from '../dom.js';
import { api, may } from '../api.js';
import { time, num } from '../format.js';
import { errorBox } from './common.js';
import { listPage } from './lists.js';

// The enrolment form (operators): the new token is shown here, once.
function enrolForm(state, reload) {
  if (!may('operator')) return null;
  const machine = h('input', { id: 'enrol-machine', required: true, placeholder: 'VM name, HOST:NAME or UUID' });
  const label = h('input', { id: 'enrol-name', placeholder: 'optional' });
  const out = h('div', { role: 'status', 'aria-live': 'polite' });
  return h('section', { 'aria-label': 'Enrol' }, h('h2', null, 'Enrol a machine'), h('form', {
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
        reload();
      } catch (x) { replace(out, errorBox(x)); }
    },
  }, h('label', { for: 'enrol-machine' }, 'Machine'), machine, h('label', { for: 'enrol-name' }, 'Label'), label,
  h('button', { type: 'submit', class: 'primary' }, 'Enrol')), out);
}

export function agentsPage(main) {
  return listPage(main, {
    title: 'Agents', key: 'agents', path: '/agents',
    intro: 'kanri-guestd runs inside a guest and pushes its figures to kanrid with a token bound to that one machine.',
    controls: enrolForm,
    wants: (t, d) => t === 'event' && String(d.kind || '').startsWith('agent.'),
    initialSort: { key: 'name', dir: 1 },
    columns: [
      { key: 'name', label: 'Machine', value: (r) => r.vm || r.name || r.machine_uuid, text: (r) => `${r.vm || ''} ${r.name || ''} ${r.machine_uuid}`,
        render: (r) => h('a', { href: `#/machine/${encodeURIComponent(r.machine_uuid)}` }, r.vm || r.name || r.machine_uuid) },
      { key: 'vm', label: 'VM', value: (r) => r.vm,
        render: (r) => (r.vm ? h('a', { href: `#/vm/${encodeURIComponent(r.machine_uuid)}` }, r.vm) : 'none (standalone)') },
      { key: 'host', label: 'Host', value: (r) => r.host },
      { key: 'agent', label: 'Agent', value: (r) => (r.agent_name ? `${r.agent_name} ${r.agent_version || ''}` : 'not heard from yet') },
      { key: 'contact', label: 'Last contact', value: (r) => r.last_contact, render: (r) => time(r.last_contact) },
      { key: 'lag', label: 'Lag (s)', numeric: true, value: (r) => r.lag_seconds, render: (r) => num(r.lag_seconds) },
      { key: 'accepted', label: 'Accepted', numeric: true, value: (r) => r.accepted },
      { key: 'rejected', label: 'Rejected', numeric: true, value: (r) => r.rejected },
      { key: 'error', label: 'Last error', value: (r) => r.last_error },
    ],
  });
}
