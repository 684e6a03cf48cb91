// The record as lists: findings, incidents (and one incident), problems,
// configuration changes, the audit trail, and search results.

import { h, replace, throttle } from '../dom.js';
import { api, may } from '../api.js';
import { time, sevRank } from '../format.js';
import { dataTable } from '../table.js';
import { loadInto, errorBox, sevBadge, stateBadge, itemLink, confirmDialog } from './common.js';

const enc = encodeURIComponent;

// A page made of one table over one GET, refreshed by live messages that
// WANTS(type, data) says are about it.
export function listPage(main, { title, intro, path, key, columns, wants, controls, initialSort }) {
  const ctl = new AbortController();
  const table = dataTable({ columns, caption: title, initialSort });
  const region = h('section', { 'aria-label': title }, table.el);
  const state = { path };
  replace(main, h('h1', null, title), intro ? h('p', { class: 'muted' }, intro) : null,
    controls ? controls(state, () => load()) : null, region);
  let err = null;
  function load() {
    return api(state.path, { signal: ctl.signal }).then((d) => {
      if (err) { err.remove(); err = null; }
      table.update(d[key]);
      main.dataset.ready = 'true';
    }).catch((e) => {
      if (e.name === 'AbortError') return;
      if (err) err.remove();
      err = errorBox(e, load);
      region.prepend(err);
    });
  }
  load();
  const refresh = throttle(load, 1000);
  return {
    onLive: (type, d) => { if (type === 'reset' || (wants && wants(type, d))) refresh(); },
    dispose: () => ctl.abort(),
  };
}

function stateFilter(choices, make) {
  return (state, reload) => h('div', { class: 'ranges', role: 'group', 'aria-label': 'Show' },
    choices.map(([value, label], i) => h('button', {
      type: 'button', 'aria-pressed': i === 0 ? 'true' : 'false',
      onclick: (e) => {
        for (const b of e.target.parentNode.children) b.setAttribute('aria-pressed', 'false');
        e.target.setAttribute('aria-pressed', 'true');
        state.path = make(value);
        reload();
      },
    }, label)));
}

const sevColumn = { key: 'severity', label: 'Severity', value: (r) => sevRank(r.severity), render: (r) => sevBadge(r.severity), text: (r) => r.severity };

export function findingsPage(main) {
  const make = (s) => `/findings?state=${s}&limit=1000`;
  return listPage(main, {
    title: 'Findings', key: 'findings', path: make('open'),
    intro: 'Where the host view and the guest view of a VM disagree, or one of them is missing or lies in a known way.',
    controls: stateFilter([['open', 'Open'], ['closed', 'Closed'], ['all', 'All']], make),
    wants: (t, d) => t === 'event' && String(d.kind || '').startsWith('finding.'),
    initialSort: { key: 'severity', dir: 1 },
    columns: [
      sevColumn,
      { key: 'vm', label: 'VM', value: (r) => r.vm, render: (r) => h('a', { href: `#/vm/${enc(r.uuid)}` }, r.vm || r.uuid) },
      { key: 'host', label: 'Host', value: (r) => r.host },
      { key: 'rule', label: 'Rule', value: (r) => r.rule },
      { key: 'state', label: 'State', value: (r) => r.state },
      { key: 'since', label: 'Since', value: (r) => r.since || r.opened, render: (r) => time(r.since || r.opened) },
      { key: 'message', label: 'What kanri saw', value: (r) => r.message },
    ],
  });
}

export function changesPage(main) {
  return listPage(main, {
    title: 'Changes', key: 'changes', path: '/changes?limit=500',
    intro: 'Every configuration change of every VM, with its diff and who or what made it.',
    wants: (t, d) => t === 'event' && /^vm\./.test(d.kind || ''),
    columns: [
      { key: 'seen', label: 'Seen', value: (r) => r.seen_at, render: (r) => time(r.seen_at) },
      { key: 'vm', label: 'VM', value: (r) => r.vm_name, render: (r) => h('a', { href: `#/vm/${enc(r.vm_uuid)}` }, r.vm_name || r.vm_uuid) },
      { key: 'host', label: 'Host', value: (r) => r.host },
      { key: 'track', label: 'Track', value: (r) => r.track + (r.pending ? ' (pending)' : '') },
      { key: 'cause', label: 'Cause', value: (r) => r.cause + (r.actor ? ` by ${r.actor}` : '') },
      { key: 'diff', label: 'Diff', render: (r) => h('details', null, h('summary', null, `v${r.from_version ?? 0} → v${r.to_version ?? '–'}`), h('pre', { class: 'diff' }, r.diff || '(none)')), text: () => '' },
    ],
  });
}

export function auditPage(main) {
  return listPage(main, {
    title: 'Audit', key: 'audit', path: '/audit?limit=500',
    intro: 'Every action taken through kanri, by whom, with its parameters and outcome.',
    wants: (t, d) => t === 'event' && /^(vm\.|action\.)/.test(d.kind || ''),
    columns: [
      { key: 'when', label: 'When', value: (r) => r.started_at, render: (r) => time(r.started_at) },
      { key: 'actor', label: 'Who', value: (r) => r.actor },
      { key: 'action', label: 'Action', value: (r) => r.action },
      { key: 'target', label: 'Target', value: (r) => r.target, render: (r) => (r.target_uuid ? h('a', { href: `#/vm/${enc(r.target_uuid)}` }, r.target) : r.target) },
      { key: 'host', label: 'Host', value: (r) => r.host },
      { key: 'params', label: 'Parameters', render: (r) => h('code', null, JSON.stringify(r.params || {})), text: (r) => JSON.stringify(r.params || {}) },
      { key: 'result', label: 'Result', value: (r) => r.result + (r.error ? `: ${r.error}` : '') },
    ],
  });
}

export function incidentsPage(main) {
  const make = (s) => `/incidents?state=${s}&limit=1000`;
  return listPage(main, {
    title: 'Incidents', key: 'incidents', path: make('open'),
    intro: 'One incident per condition and item while it lasts; events join it, people acknowledge and resolve it.',
    controls: stateFilter([['open', 'Open'], ['acknowledged', 'Acknowledged'], ['resolved', 'Resolved'], ['all', 'All']], make),
    wants: (t) => t === 'incident',
    initialSort: { key: 'severity', dir: 1 },
    columns: [
      sevColumn,
      { key: 'id', label: '#', numeric: true, value: (r) => r.id, render: (r) => h('a', { href: `#/incidents/${r.id}` }, `#${r.id}`) },
      { key: 'title', label: 'Title', value: (r) => r.title },
      { key: 'item', label: 'Item', value: (r) => r.item_name || r.item, render: (r) => itemLink(r.item, r.item_name) },
      { key: 'state', label: 'State', value: (r) => r.state, render: (r) => stateBadge(r.state) },
      { key: 'opened', label: 'Opened', value: (r) => r.opened, render: (r) => time(r.opened) },
      { key: 'events', label: 'Events', numeric: true, value: (r) => r.events },
    ],
  });
}

export function incidentPage(main, id) {
  const ctl = new AbortController();
  const region = h('section');
  const status = h('p', { role: 'status', 'aria-live': 'polite' });
  replace(main, h('h1', null, `Incident #${id}`), status, region);
  async function person(what) {
    const input = h('textarea', { id: 'inc-comment', rows: 3 });
    const ok = await confirmDialog({ title: `${what === 'acknowledge' ? 'Acknowledge' : 'Resolve'} incident #${id}`, body: h('div', null, h('label', { for: 'inc-comment' }, 'Comment (optional)'), input), confirm: what === 'acknowledge' ? 'Acknowledge' : 'Resolve' });
    if (!ok) return;
    try {
      await api(`/incidents/${id}/${what}`, { method: 'POST', body: input.value.trim() ? { comment: input.value.trim() } : {} });
      status.textContent = `Incident #${id}: ${what === 'acknowledge' ? 'acknowledged' : 'resolved'}.`;
    } catch (e) { status.textContent = `Failed: ${e.message}`; }
    load();
  }
  const load = () => loadInto(region, () => api(`/incidents/${id}`, { signal: ctl.signal }), (d) => {
    const i = d.incident;
    replace(region,
      h('dl', { class: 'facts' },
        h('dt', null, 'Severity'), h('dd', null, sevBadge(i.severity)),
        h('dt', null, 'State'), h('dd', null, stateBadge(i.state), i.acknowledged_by ? ` (acknowledged by ${i.acknowledged_by})` : '', i.resolved_by ? ` (resolved by ${i.resolved_by})` : ''),
        h('dt', null, 'Title'), h('dd', null, i.title),
        h('dt', null, 'Item'), h('dd', null, itemLink(i.item, i.item_name)),
        h('dt', null, 'Opened'), h('dd', null, time(i.opened)),
        h('dt', null, 'Condition'), h('dd', { class: 'mono' }, i.condition)),
      may('operator') && i.state !== 'resolved' ? h('div', { class: 'actions' },
        i.state === 'open' ? h('button', { type: 'button', onclick: () => person('acknowledge') }, 'Acknowledge…') : null,
        h('button', { type: 'button', onclick: () => person('resolve') }, 'Resolve…')) : null,
      h('h2', null, 'Affected'), (d.affected || []).length
        ? h('ul', null, d.affected.map((a) => h('li', null, itemLink(a.item, a.name))))
        : h('p', null, 'Only the item itself.'),
      h('h2', null, 'Preceding changes'), (d.preceding_changes || []).length
        ? h('ul', null, d.preceding_changes.map((c) => h('li', null, c.likely ? h('strong', null, 'likely cause: ') : null,
          `${time(c.t)} ${c.name}: ${c.summary || c.cause}${c.actor ? ` by ${c.actor}` : ''}`, c.diff ? h('details', null, h('summary', null, 'diff'), h('pre', { class: 'diff' }, c.diff)) : null)))
        : h('p', null, 'No configuration change or action in the window before it opened.'),
      h('h2', null, 'Log'), h('ol', null, (d.log || []).map((l) => h('li', null, `${time(l.t)} ${l.what}${l.by ? ` by ${l.by}` : ''}${l.comment ? `: ${l.comment}` : ''}`))),
      h('h2', null, 'Events'), h('ul', null, (d.events || []).map((e) => h('li', null, `${time(e.t)} `, sevBadge(e.severity), ` ${e.kind}: ${e.message}`))));
    main.dataset.ready = 'true';
  });
  load();
  const refresh = throttle(load, 1000);
  return { onLive: (t, d) => { if (t === 'reset' || (t === 'incident' && String(d.id) === String(id))) refresh(); }, dispose: () => ctl.abort() };
}

export function problemsPage(main) {
  return listPage(main, {
    title: 'Problems', key: 'problems', path: '/problems',
    intro: 'The causes behind recurring incidents: known errors and their workarounds.',
    wants: (t) => t === 'incident',
    columns: [
      { key: 'id', label: '#', numeric: true, value: (r) => r.id },
      { key: 'title', label: 'Title', value: (r) => r.title },
      { key: 'state', label: 'State', value: (r) => r.state, render: (r) => stateBadge(r.state) },
      { key: 'root', label: 'Root cause', value: (r) => r.root_cause },
      { key: 'workaround', label: 'Workaround', value: (r) => r.workaround },
    ],
  });
}

// Finds hosts, VMs, pools and networks by name or UUID (case-insensitive
// substring), from the lists the API serves.
export function searchPage(main, query) {
  const q = query.toLowerCase();
  const ctl = new AbortController();
  const region = h('section', { 'aria-label': 'Results' });
  replace(main, h('h1', null, `Search: “${query}”`), region);
  const opt = { signal: ctl.signal };
  loadInto(region, () => Promise.all([api('/hosts', opt), api('/vms?fields=uuid,name,host,state,kind', opt), api('/pools', opt), api('/networks', opt)]),
    ([hs, vs, ps, ns]) => {
      const m = (...xs) => xs.some((x) => x && String(x).toLowerCase().includes(q));
      const groups = [
        ['Hosts', hs.hosts.filter((x) => m(x.name, x.uri, x.hostname)).map((x) => h('li', null, h('a', { href: `#/host/${enc(x.name)}` }, x.name), ` — ${x.state}`))],
        ['VMs', vs.vms.filter((x) => m(x.name, x.uuid)).map((x) => h('li', null, h('a', { href: `#/vm/${enc(x.uuid)}` }, x.name), `${x.kind === 'container' ? ' (container)' : ''} on ${x.host} — ${x.state}`))],
        ['Storage pools', ps.pools.filter((x) => m(x.name, x.uuid)).map((x) => h('li', null, h('a', { href: `#/host/${enc(x.host)}` }, `${x.host}/${x.name}`), ` — ${x.state}`))],
        ['Networks', ns.networks.filter((x) => m(x.name, x.uuid, x.bridge)).map((x) => h('li', null, h('a', { href: `#/host/${enc(x.host)}` }, `${x.host}/${x.name}`), x.bridge ? ` — bridge ${x.bridge}` : ''))],
      ];
      const total = groups.reduce((n, g) => n + g[1].length, 0);
      replace(region, h('p', { role: 'status' }, total ? `${total} found.` : 'Nothing matches: try part of a name or a UUID.'),
        groups.filter((g) => g[1].length).map(([t, items]) => [h('h2', null, `${t} (${items.length})`), h('ul', { class: 'results' }, items.slice(0, 200))]));
      main.dataset.ready = 'true';
    });
  return { dispose: () => ctl.abort() };
}
