// Change requests and templates (docs/provisioning.md): the requests with
// their state, window and people; one request with each VM's batch, what
// was saved and what became of it, and the steps its state allows
// (operators: submit, approve — not their own —, reject, cancel); the
// templates with their images.

import { h, replace } from '../dom.js';
import { api, may } from '../api.js';
import { time } from '../format.js';
import { loadInto, errorBox, stateBadge } from './common.js';
import { listPage } from './lists.js';

const enc = encodeURIComponent;

// The steps a state allows (src/provision/change.c's table).
const STEPS = {
  draft: ['submit', 'cancel'],
  submitted: ['approve', 'reject', 'cancel'],
  approved: ['cancel'],
  scheduled: ['cancel'],
};

function windowText(r) {
  if (!r.window_from && !r.window_to) return 'any time';
  return `${r.window_from ? time(r.window_from) : 'now'} \u2192 ${r.window_to ? time(r.window_to) : 'no end'}`;
}

function actionsText(actions) {
  return (actions || []).map((a) => {
    const params = Object.entries(a).filter(([k]) => k !== 'action' && k !== 'xml')
      .map(([k, v]) => `${k}=${v}`);
    return [a.action, ...params, a.xml ? '(new domain XML)' : ''].filter(Boolean).join(' ');
  }).join('; ');
}

export function changeRequestsPage(main) {
  return listPage(main, {
    title: 'Change requests', key: 'change_requests', path: '/change-requests',
    intro: 'Actions on VMs that kanrid runs inside their window once another token has approved them, checks, and rolls back when a check fails.',
    initialSort: { key: 'id', dir: -1 },
    columns: [
      { key: 'id', label: 'Request', numeric: true, value: (r) => r.id,
        render: (r) => h('a', { href: `#/change-requests/${r.id}` }, `#${r.id}`) },
      { key: 'state', label: 'State', value: (r) => r.state, render: (r) => stateBadge(r.state) },
      { key: 'risk', label: 'Risk', value: (r) => r.risk },
      { key: 'reason', label: 'Reason', value: (r) => r.reason },
      { key: 'actions', label: 'Actions', value: (r) => actionsText(r.actions), render: (r) => actionsText(r.actions) },
      { key: 'window', label: 'Window', value: (r) => r.window_from || 0, render: (r) => windowText(r) },
      { key: 'requester', label: 'Requested by', value: (r) => r.requester },
      { key: 'approver', label: 'Approved by', value: (r) => r.approver },
      { key: 'error', label: 'Why it stopped', value: (r) => r.error },
    ],
  });
}

export function changeRequestPage(main, id) {
  const ctl = new AbortController();
  const region = h('section', { 'aria-label': `Change request ${id}` });
  const out = h('div', { role: 'status', 'aria-live': 'polite' });
  replace(main, h('h1', null, `Change request #${id}`), out, region);
  function show(r) {
    const steps = may('operator') ? (STEPS[r.state] || []) : [];
    replace(region,
      h('dl', { class: 'facts' },
        h('dt', null, 'State'), h('dd', { 'data-state': r.state }, stateBadge(r.state)),
        h('dt', null, 'Reason'), h('dd', null, r.reason),
        h('dt', null, 'Risk'), h('dd', null, r.risk),
        h('dt', null, 'Window'), h('dd', null, windowText(r)),
        h('dt', null, 'Actions'), h('dd', null, actionsText(r.actions)),
        h('dt', null, 'Rollout'), h('dd', null, `${r.canary ? 'a canary first, then ' : ''}${r.batch ? `${r.batch} at a time` : 'all at once'}`),
        h('dt', null, 'Checks'), h('dd', null, `running as its actions leave it${r.guest_fresh_s ? `, guest view at most ${r.guest_fresh_s} s old` : ''}, no new critical finding; up to ${r.check_timeout_s} s`),
        h('dt', null, 'Requested by'), h('dd', null, `${r.requester}, ${time(r.created)}`),
        h('dt', null, 'Approved by'), h('dd', null, r.approver || 'nobody yet'),
        r.started ? [h('dt', null, 'Ran'), h('dd', null, `${time(r.started)} \u2192 ${r.ended ? time(r.ended) : 'still running'}`)] : null,
        r.error ? [h('dt', null, 'Why it stopped'), h('dd', { class: 'error-text' }, r.error)] : null),
      steps.length ? h('div', { class: 'actions', role: 'group', 'aria-label': 'Steps' },
        steps.map((s) => h('button', {
          type: 'button', class: s === 'approve' ? 'primary' : null,
          onclick: async () => {
            replace(out);
            try {
              const res = await api(`/change-requests/${enc(id)}/${s}`, { method: 'POST', body: {} });
              replace(out, h('p', null, `Request #${id} is ${res.state}.`));
            } catch (x) { replace(out, errorBox(x)); }
            load();
          },
        }, s[0].toUpperCase() + s.slice(1)))) : null,
      h('h2', null, 'VMs'),
      h('table', { class: 'data' },
        h('caption', { class: 'visually-hidden' }, 'Each VM of the request'),
        h('thead', null, h('tr', null, ['Batch', 'VM', 'Host', 'State', 'Saved', 'Result', 'Audit'].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', null, r.vms.map((v) => h('tr', null,
          h('td', { class: 'num' }, String(v.batch)),
          h('td', null, h('a', { href: `#/vm/${enc(v.uuid)}` }, v.vm || v.uuid)),
          h('td', null, v.host || ''),
          h('td', null, stateBadge(v.state)),
          h('td', null, v.saved || ''),
          h('td', null, v.result || ''),
          h('td', null, (v.audit_ids || []).map((a) => `#${a}`).join(' ')))))));
    main.dataset.ready = 'true';
  }
  function load() {
    return loadInto(region, () => api(`/change-requests/${enc(id)}`, { signal: ctl.signal }), show);
  }
  load();
  // A request in flight moves by itself: look again every few seconds
  // until it ends.
  const timer = setInterval(() => {
    const st = region.querySelector('[data-state]');
    if (st && ['approved', 'scheduled', 'running'].includes(st.dataset.state)) load();
  }, 3000);
  return { dispose: () => { clearInterval(timer); ctl.abort(); } };
}

export function templatesPage(main) {
  return listPage(main, {
    title: 'Templates', key: 'templates', path: '/templates',
    intro: 'A shut-off VM\u2019s definition and copies of its disk images in a storage pool; VMs are made from them as linked clones or full copies (kanri vm create NAME --template T).',
    initialSort: { key: 'name', dir: 1 },
    columns: [
      { key: 'name', label: 'Template', value: (r) => r.name },
      { key: 'version', label: 'Version', numeric: true, value: (r) => r.version },
      { key: 'host', label: 'Host', value: (r) => r.host },
      { key: 'pool', label: 'Pool', value: (r) => r.pool },
      { key: 'source_vm', label: 'Made from', value: (r) => r.source_vm },
      { key: 'images', label: 'Images', value: (r) => (r.disks || []).map((d) => d.path).join(' '), render: (r) => (r.disks || []).map((d) => d.path).join(' ') || 'none' },
      { key: 'created', label: 'Made', value: (r) => r.created, render: (r) => time(r.created) },
      { key: 'by', label: 'By', value: (r) => r.by },
    ],
  });
}
