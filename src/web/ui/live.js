// Live updates: kanrid's server-sent events (GET /api/v1/events/stream),
// read with fetch() so the token goes in the Authorization header (an
// EventSource cannot send one).  Reconnects by itself and resumes after the
// last message seen (Last-Event-ID); a "reset" tells pages to reload.

import { session, logout } from './api.js';

const subscribers = new Set();
const statusListeners = new Set();
let ctl = null;
let lastId = null;
let retryMs = 1000;
let retryTimer = null;
export const status = { state: 'off', message: 'not connected' };

export function subscribe(fn) {
  subscribers.add(fn);
  return () => subscribers.delete(fn);
}

export function onStatus(fn) {
  statusListeners.add(fn);
  fn(status);
  return () => statusListeners.delete(fn);
}

function setStatus(state, message) {
  status.state = state;
  status.message = message;
  for (const fn of statusListeners) fn(status);
}

function dispatch(type, data) {
  for (const fn of subscribers) {
    try { fn(type, data); } catch (e) { console.error('live update handler', e); }
  }
}

// One SSE frame: "id: N\nevent: TYPE\ndata: JSON" (comments start with ":").
export function parseFrame(frame) {
  let id = null;
  let type = 'message';
  const data = [];
  for (const line of frame.split('\n')) {
    if (line === '' || line.startsWith(':')) continue;
    const i = line.indexOf(':');
    const field = i < 0 ? line : line.slice(0, i);
    let value = i < 0 ? '' : line.slice(i + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'id') id = value;
    else if (field === 'event') type = value;
    else if (field === 'data') data.push(value);
  }
  if (!data.length) return null;
  let parsed;
  try { parsed = JSON.parse(data.join('\n')); } catch { return null; }
  return { id, type, data: parsed };
}

async function run(signal) {
  const headers = { Accept: 'text/event-stream', Authorization: `Bearer ${session.token}` };
  if (lastId !== null) headers['Last-Event-ID'] = lastId;
  const res = await fetch('/api/v1/events/stream', { headers, signal, cache: 'no-store' });
  if (res.status === 401) {
    logout('kanrid refused the token (revoked, or unknown): log in again.');
    return 'stop';
  }
  if (!res.ok || !res.body) throw new Error(`the live stream answered HTTP ${res.status}`);
  setStatus('live', 'live: changes appear as they happen');
  retryMs = 1000;
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += value.replace(/\r\n?/g, '\n');
    let cut;
    while ((cut = buf.indexOf('\n\n')) >= 0) {
      const frame = parseFrame(buf.slice(0, cut));
      buf = buf.slice(cut + 2);
      if (!frame) continue;
      if (frame.id !== null) lastId = frame.id;
      dispatch(frame.type, frame.data);
    }
  }
  throw new Error('kanrid ended the live stream');
}

export function start() {
  stop();
  const c = new AbortController();
  ctl = c;
  setStatus('connecting', 'connecting to the live stream…');
  run(c.signal).then((r) => {
    if (r === 'stop') setStatus('off', 'not connected');
  }).catch((e) => {
    if (c.signal.aborted) return;
    const msg = e instanceof TypeError ? 'kanrid does not answer' : e.message;
    setStatus('down', `live updates stopped (${msg}); retrying in ${Math.round(retryMs / 1000)} s`);
    retryTimer = setTimeout(() => { if (ctl === c) start(); }, retryMs);
    retryMs = Math.min(retryMs * 2, 10000);
  });
}

export function stop() {
  clearTimeout(retryTimer);
  if (ctl) ctl.abort();
  ctl = null;
  setStatus('off', 'not connected');
}
