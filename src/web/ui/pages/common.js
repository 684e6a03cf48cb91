// What every page shares: loading, failure in words, small widgets.

import { h, replace } from '../dom.js';
import { SEVERITIES } from '../format.js';

// Runs LOAD() and hands its result to SHOW(); while it runs the region says
// so, and a failure is shown in words with a way to try again (never a
// blank page or an endless spinner: the API gives up after 15 s).
export async function loadInto(region, load, show) {
  const busy = h('p', { class: 'loading', role: 'status' }, 'Loading…');
  if (!region.firstChild) region.appendChild(busy);
  region.setAttribute('aria-busy', 'true');
  try {
    const data = await load();
    region.removeAttribute('aria-busy');
    show(data);
    return data;
  } catch (e) {
    region.removeAttribute('aria-busy');
    if (e.name === 'AbortError') return null;
    replace(region, errorBox(e, () => loadInto(region, load, show)));
    return null;
  }
}

export function errorBox(e, retry) {
  const msg = e && e.status === 403 ? `Not allowed for this token: ${e.message}`
    : e && e.status === 404 ? `Not found: ${e.message}`
    : e && e.status === 503 ? `kanrid is not ready: ${e.message}`
    : (e && e.message) || String(e);
  return h('div', { class: 'error', role: 'alert' },
    h('p', null, msg),
    retry ? h('button', { type: 'button', onclick: retry }, 'Try again') : null);
}

export function sevBadge(sev) {
  return h('span', { class: `sev sev-${sev}` }, sev);
}

// A domain's kind (GET /vms' kind) in words: "Container" for a system
// container, "VM" otherwise.
export function kindLabel(kind) {
  return kind === 'container' ? 'Container' : 'VM';
}

export function stateBadge(state) {
  return h('span', { class: `state state-${String(state).replace(/[^a-z-]/g, '')}` }, state);
}

// "2 critical · 3 warning" counts, each a link.
export function sevCounts(counts, href) {
  const parts = [];
  for (const s of SEVERITIES) {
    if (counts && !(s in counts)) continue; // findings have no "major"
    const n = (counts && counts[s]) || 0;
    parts.push(h('a', { href, class: `count-chip sev-${s}${n ? '' : ' zero'}` }, `${n} ${s}`));
  }
  return h('span', { class: 'counts' }, parts);
}

// A used-of-capacity bar with the figures in words beside it.
export function usageBar(used, cap, text) {
  const known = used !== null && used !== undefined && cap;
  const share = known ? Math.min(100, (100 * used) / cap) : 0;
  const bar = h('span', { class: 'bar', 'aria-hidden': 'true' });
  const fill = h('span', { class: `fill${share >= 90 ? ' high' : share >= 75 ? ' mid' : ''}` });
  fill.style.width = `${share.toFixed(1)}%`;
  bar.appendChild(fill);
  return h('span', { class: 'usage' }, bar, h('span', { class: 'usage-text' }, text));
}

// A modal confirmation: resolves true when confirmed.  BODY may hold
// inputs; VALIDATE() returns an error text or null.
export function confirmDialog({ title, body, confirm = 'Confirm', danger = false, validate }) {
  return new Promise((resolve) => {
    const err = h('p', { class: 'error-text', role: 'alert' });
    const dlg = h('dialog', { class: 'confirm', 'aria-labelledby': 'dlg-title' },
      h('form', { method: 'dialog' },
        h('h2', { id: 'dlg-title' }, title),
        body || null,
        err,
        h('div', { class: 'buttons' },
          h('button', { type: 'button', value: 'cancel', onclick: () => { dlg.close(); } }, 'Cancel'),
          h('button', {
            type: 'submit', class: danger ? 'danger' : 'primary', value: 'ok',
            onclick: (e) => {
              const problem = validate ? validate() : null;
              if (problem) { e.preventDefault(); err.textContent = problem; return; }
              dlg.returnValue = 'ok';
            },
          }, confirm))));
    dlg.addEventListener('close', () => { dlg.remove(); resolve(dlg.returnValue === 'ok'); });
    document.body.appendChild(dlg);
    dlg.returnValue = '';
    dlg.showModal();
  });
}

export function rangeButtons(ranges, current, onpick) {
  return h('div', { class: 'ranges', role: 'group', 'aria-label': 'Time range' },
    ranges.map(([key, label]) => h('button', {
      type: 'button', 'aria-pressed': key === current ? 'true' : 'false',
      onclick: () => onpick(key),
    }, label)));
}

export const RANGES = [['1h', '1 h'], ['24h', '24 h'], ['7d', '7 d'], ['90d', '90 d']];
export const RANGE_S = { '1h': 3600, '24h': 86400, '7d': 7 * 86400, '90d': 90 * 86400 };

export function itemLink(item, name) {
  if (!item) return name || '–';
  const i = item.indexOf(':');
  const kind = item.slice(0, i);
  const id = item.slice(i + 1);
  if (kind === 'vm') return h('a', { href: `#/vm/${encodeURIComponent(id)}` }, name || id);
  if (kind === 'host') return h('a', { href: `#/host/${encodeURIComponent(id)}` }, name || id);
  return name || item;
}
