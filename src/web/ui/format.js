// Figures as people read them.

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

export function bytes(v) {
  if (v === null || v === undefined || Number.isNaN(v)) return '–';
  let i = 0;
  let x = Math.abs(v);
  while (x >= 1024 && i < UNITS.length - 1) { x /= 1024; i++; }
  const s = x >= 100 || i === 0 ? x.toFixed(0) : x.toFixed(1);
  return (v < 0 ? '-' : '') + s + ' ' + UNITS[i];
}

export function rate(v) {
  return v === null || v === undefined ? '–' : bytes(v) + '/s';
}

export function pct(v, digits = 1) {
  return v === null || v === undefined || Number.isNaN(v) ? '–' : v.toFixed(digits) + ' %';
}

export function num(v, digits = 1) {
  return v === null || v === undefined ? '–' : Number(v).toFixed(digits);
}

// A value in the unit the API gives ("%", "B", "bytes", "B/s", "bytes/s"),
// or "load" (a load average, two decimals).
export function unitValue(v, unit) {
  if (unit === '%') return pct(v);
  if (unit === 'load') return num(v, 2);
  if (unit === 'B' || unit === 'bytes') return bytes(v);
  if (unit === 'B/s' || unit === 'bytes/s') return rate(v);
  return v === null || v === undefined ? '–' : String(v);
}

export function time(iso) {
  if (!iso) return '–';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

// "12 s ago", "3 min ago", "2 h ago", "5 d ago"
export function ago(iso, now = Date.now()) {
  if (!iso) return 'never';
  const s = Math.round((now - new Date(iso).getTime()) / 1000);
  return age(s) + ' ago';
}

export function age(s) {
  if (s === null || s === undefined) return '–';
  s = Math.max(0, Math.round(s));
  if (s < 90) return `${s} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} d`;
}

export const SEVERITIES = ['critical', 'major', 'warning', 'info'];

export function sevRank(s) {
  const i = SEVERITIES.indexOf(s);
  return i < 0 ? SEVERITIES.length : i;
}
