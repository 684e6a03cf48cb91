// The REST API, as the CLI uses it: Bearer token, JSON, problem+json errors.
// The token lives in sessionStorage only (gone when the browser session
// ends); a 401 anywhere ends the session and sends the user to log in.

const KEY = 'kanri.token';
const TIMEOUT_MS = 15000;

export const session = {
  token: sessionStorage.getItem(KEY),
  who: null, // {id, name, role} from GET /server
};

const listeners = { logout: [], reach: [] };
export function on(what, fn) { listeners[what].push(fn); }
function emit(what, arg) { for (const fn of listeners[what]) fn(arg); }

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export function setToken(token) {
  session.token = token;
  sessionStorage.setItem(KEY, token);
}

export function logout(reason) {
  session.token = null;
  session.who = null;
  sessionStorage.removeItem(KEY);
  emit('logout', reason || null);
}

export const ROLES = ['guest', 'viewer', 'operator', 'admin'];
export function may(role) {
  return !!session.who && ROLES.indexOf(session.who.role) >= ROLES.indexOf(role);
}

// GET PATH whose reply is not JSON (a report's CSV or HTML), as a Blob.
export async function apiBlob(path) {
  const headers = {};
  if (session.token) headers.Authorization = `Bearer ${session.token}`;
  const res = await fetch('/api/v1' + path, { headers, cache: 'no-cache' });
  if (!res.ok) throw new ApiError(res.status, `GET ${path}: HTTP ${res.status}`);
  return res.blob();
}

export async function api(path, { method = 'GET', body, token, signal } = {}) {
  const headers = { Accept: 'application/json' };
  const tok = token || session.token;
  if (tok) headers.Authorization = `Bearer ${tok}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), TIMEOUT_MS);
  if (signal) signal.addEventListener('abort', () => ctl.abort());
  let res;
  try {
    res = await fetch('/api/v1' + path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      signal: ctl.signal, cache: 'no-cache',
    });
  } catch (e) {
    if (signal && signal.aborted) throw e;
    const msg = ctl.signal.aborted
      ? `kanrid did not answer within ${TIMEOUT_MS / 1000} s`
      : 'kanrid does not answer: it may be stopped, or the network is down';
    emit('reach', { ok: false, message: msg });
    throw new ApiError(0, msg);
  } finally {
    clearTimeout(timer);
  }
  emit('reach', { ok: true });
  if (res.status === 204) return null;
  let data = null;
  const type = res.headers.get('Content-Type') || '';
  if (type.includes('json')) {
    try { data = await res.json(); } catch { data = null; }
  }
  if (!res.ok) {
    const detail = data && (data.detail || data.title);
    if (res.status === 401 && !token) {
      logout('kanrid refused the token (revoked, or unknown): log in again.');
    }
    throw new ApiError(res.status, detail || `${method} ${path}: HTTP ${res.status}`);
  }
  return data;
}

// Signs in with TOKEN: it is kept only when kanrid accepts it.
export async function login(token) {
  const server = await api('/server', { token });
  setToken(token);
  session.who = server.token;
  return server;
}

// The session's identity after a reload (the token is in sessionStorage).
export async function resume() {
  if (!session.token) return false;
  const server = await api('/server');
  session.who = server.token;
  return true;
}

export function vmAction(vm, action, params) {
  return api(`/vms/${encodeURIComponent(vm)}/actions/${action}`, { method: 'POST', body: params || {} });
}
