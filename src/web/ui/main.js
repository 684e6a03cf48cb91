// The dashboard's shell: log-in, navigation, search, the live status, and a
// hash router (#/vm/UUID...) that mounts one page at a time.  Every figure
// comes from the REST API (docs/api.md); every action goes through it.

import * as api from './api.js';
import * as live from './live.js';
import { h, replace } from './dom.js';
import { loginPage } from './pages/login.js';
import { fleetPage } from './pages/fleet.js';
import { hostPage } from './pages/host.js';
import { vmPage } from './pages/vm.js';
import { findingsPage, changesPage, auditPage, incidentsPage, incidentPage, problemsPage, searchPage } from './pages/lists.js';
import { agentsPage } from './pages/agents.js';
import { machinesPage, machinePage } from './pages/machines.js';
import { policiesPage } from './pages/policies.js';
import { decisionsPage } from './pages/decisions.js';
import { haPage } from './pages/ha.js';
import { changeRequestsPage, changeRequestPage, templatesPage } from './pages/changes.js';
import { reportsPage } from './pages/reports.js';

const NAV = [
  ['#/', 'Fleet'],
  ['#/findings', 'Findings'],
  ['#/incidents', 'Incidents'],
  ['#/problems', 'Problems'],
  ['#/changes', 'Changes'],
  ['#/audit', 'Audit'],
  ['#/policies', 'Policies'],
  ['#/decisions', 'Decisions'],
  ['#/ha', 'HA'],
  ['#/change-requests', 'Requests'],
  ['#/templates', 'Templates'],
  ['#/reports', 'Reports'],
  ['#/machines', 'Machines'],
  ['#/agents', 'Agents'],
];

const ROUTES = [
  [/^#?\/?$/, fleetPage],
  [/^#\/host\/([^/]+)$/, hostPage],
  [/^#\/vm\/([^/]+)$/, vmPage],
  [/^#\/findings$/, findingsPage],
  [/^#\/incidents$/, incidentsPage],
  [/^#\/incidents\/(\d+)$/, incidentPage],
  [/^#\/problems$/, problemsPage],
  [/^#\/changes$/, changesPage],
  [/^#\/audit$/, auditPage],
  [/^#\/agents$/, agentsPage],
  [/^#\/machines$/, machinesPage],
  [/^#\/machine\/([^/]+)$/, machinePage],
  [/^#\/policies$/, policiesPage],
  [/^#\/decisions$/, decisionsPage],
  [/^#\/ha$/, haPage],
  [/^#\/change-requests$/, changeRequestsPage],
  [/^#\/change-requests\/(\d+)$/, changeRequestPage],
  [/^#\/templates$/, templatesPage],
  [/^#\/reports$/, reportsPage],
  [/^#\/search\/(.*)$/, searchPage],
];

const app = document.getElementById('app');
let page = null;
let loginReason = null;
let banner;
let main;
let liveEl;

function shell() {
  banner = h('div', { class: 'banner', role: 'alert', hidden: true });
  main = h('main', { id: 'main', tabindex: '-1' });
  liveEl = h('span', { class: 'live-state', role: 'status' });
  const q = h('input', { id: 'search', type: 'search', name: 'q', placeholder: 'host, VM, pool, network, UUID', autocomplete: 'off' });
  const who = api.session.who;
  const nav = h('nav', { 'aria-label': 'Main' }, h('ul', null,
    NAV.map(([href, label]) => h('li', null, h('a', { href, 'data-nav': href }, label)))));
  replace(app,
    h('a', { class: 'skip', href: '#main', onclick: (e) => { e.preventDefault(); main.focus(); } }, 'Skip to content'),
    h('header', { class: 'top' },
      h('a', { class: 'brand', href: '#/' }, 'kanri'),
      nav,
      h('form', {
        class: 'search', role: 'search',
        onsubmit: (e) => {
          e.preventDefault();
          const v = q.value.trim();
          if (v) location.hash = '#/search/' + encodeURIComponent(v);
        },
      }, h('label', { for: 'search', class: 'visually-hidden' }, 'Search the fleet'), q,
      h('button', { type: 'submit' }, 'Search')),
      liveEl,
      h('span', { class: 'who' }, `${who.name} (${who.role})`),
      h('button', { type: 'button', class: 'logout', onclick: () => api.logout(null) }, 'Log out')),
    banner, main);
  live.onStatus((s) => {
    liveEl.textContent = s.state === 'live' ? '● live' : s.state === 'connecting' ? '○ connecting' : '○ not live';
    liveEl.title = s.message;
    liveEl.dataset.state = s.state;
    liveEl.setAttribute('aria-label', s.message);
  });
}

function showBanner(text) {
  if (!banner) return;
  banner.hidden = !text;
  banner.textContent = text || '';
}

api.on('reach', (r) => {
  if (r.ok) showBanner(null);
  else showBanner(`${r.message}. What is shown may be out of date; kanri keeps trying.`);
});

api.on('logout', (reason) => {
  loginReason = reason;
  live.stop();
  if (page && page.dispose) page.dispose();
  page = null;
  banner = null;
  location.hash = '#/login';
  route();
});

live.subscribe((type, data) => {
  if (page && page.onLive) page.onLive(type, data);
});

function markNav() {
  const hash = location.hash || '#/';
  for (const a of app.querySelectorAll('[data-nav]')) {
    const target = a.getAttribute('data-nav');
    const current = target === '#/' ? hash === '#/' || hash === '' : hash.startsWith(target);
    if (current) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

async function route() {
  if (!api.session.token || !api.session.who) {
    if (page && page.dispose) page.dispose();
    const back = location.hash && location.hash !== '#/login' ? location.hash : '#/';
    page = null;
    replace(app, loginPage({
      reason: loginReason,
      onLogin: () => {
        loginReason = null;
        shell();
        live.start();
        location.hash = back;
        route();
      },
    }));
    return;
  }
  if (!main) shell();
  if (location.hash === '#/login') { location.hash = '#/'; return; }
  if (page && page.dispose) page.dispose();
  page = null;
  markNav();
  const hash = location.hash || '#/';
  for (const [re, fn] of ROUTES) {
    const m = hash.match(re);
    if (m) {
      const params = m.slice(1).map(decodeURIComponent);
      page = fn(main, ...params) || null;
      return;
    }
  }
  replace(main, h('h1', null, 'Not found'), h('p', null, `No page at ${hash}. `, h('a', { href: '#/' }, 'Go to the fleet')));
}

window.addEventListener('hashchange', () => {
  if (api.session.token && api.session.who && location.hash === '#main') return;
  route();
});

async function boot() {
  if (api.session.token) {
    try {
      await api.resume();
    } catch (e) {
      if (e.status !== 401) loginReason = e.message;
      api.session.who = null;
    }
  }
  if (api.session.who) {
    shell();
    live.start();
  }
  route();
}

boot();
