// Time-series charts (uPlot): the host view H, the guest view G and kanri's
// reconciled value R of one resource on one time axis, with the findings
// of that time drawn as bands behind them.

import uPlot from 'uplot';
import { h } from './dom.js';
import { unitValue } from './format.js';

function cssVar(name, fallback) {
  const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return v || fallback;
}

// SERIES: [{label, points: [{t, v}], stroke, dash, width}]; returns
// [xs, ys...] aligned on the union of the times (null where a series has
// no point: a gap, never a value made up).
export function align(series) {
  const times = new Set();
  for (const s of series) for (const p of s.points) times.add(Date.parse(p.t) / 1000);
  const xs = Float64Array.from([...times].sort((a, b) => a - b));
  const index = new Map();
  xs.forEach((x, i) => index.set(x, i));
  const ys = series.map((s) => {
    const y = new Array(xs.length).fill(null);
    for (const p of s.points) {
      if (p.v !== null && p.v !== undefined) y[index.get(Date.parse(p.t) / 1000)] = p.v;
    }
    return y;
  });
  return [xs, ...ys];
}

// A colour, or "var(--name)" read from the page's theme (a canvas cannot).
function color(c) {
  const m = /^var\((--[a-z0-9-]+)\)$/.exec(c || '');
  return m ? cssVar(m[1], '#888') : c;
}

function bandsPlugin(bands) {
  return {
    hooks: {
      drawClear: [(u) => {
        const { ctx } = u;
        const { top, height, left, width } = u.bbox;
        ctx.save();
        for (const b of bands) {
          const x0 = Math.max(left, u.valToPos(b.from, 'x', true));
          const x1 = Math.min(left + width, u.valToPos(b.to, 'x', true));
          if (x1 <= x0) continue;
          ctx.fillStyle = b.severity === 'critical' ? cssVar('--band-critical', 'rgba(200,0,0,.18)')
            : cssVar('--band-warning', 'rgba(230,150,0,.18)');
          ctx.fillRect(x0, top, Math.max(1, x1 - x0), height);
        }
        ctx.restore();
      }],
    },
  };
}

// The width of one chart in CONTAINER (a .charts grid: two columns on a
// wide screen, one on a narrow one).
export function chartWidth(container) {
  const w = container.clientWidth || 1000;
  const cols = window.innerWidth >= 900 ? 2 : 1; // as app.css's .charts
  return Math.max(280, Math.floor((w - (cols - 1) * 16) / cols) - 14);
}

// Draws into a new <figure>; FROM and TO (seconds) fix the time axis.
export function hgrChart({ title, unit, series, bands = [], from, to, width = 560, height = 180 }) {
  const data = align(series);
  const fig = h('figure', { class: 'chart' });
  const caption = h('figcaption', null, h('span', { class: 'chart-title' }, title));
  fig.appendChild(caption);
  const axis = cssVar('--fg-muted', '#555');
  const grid = cssVar('--grid', 'rgba(128,128,128,.2)');
  const fmt = (v) => unitValue(v, unit);
  const opts = {
    width, height,
    legend: { show: true, live: true },
    cursor: { drag: { x: true, y: false } },
    scales: { x: { time: true, range: () => [from, to] } },
    axes: [
      { stroke: axis, grid: { stroke: grid }, ticks: { stroke: grid } },
      { stroke: axis, grid: { stroke: grid }, ticks: { stroke: grid }, size: 70,
        values: (u, vals) => vals.map(fmt) },
    ],
    series: [
      {},
      ...series.map((s) => ({
        label: s.label, stroke: color(s.stroke), width: s.width || 1.5, dash: s.dash,
        spanGaps: false, points: { show: data[0].length < 3 },
        value: (u, v) => fmt(v),
      })),
    ],
    plugins: [bandsPlugin(bands)],
  };
  const plot = new uPlot(opts, data, fig);
  fig.plot = plot;
  fig.counts = series.map((s, i) => data[i + 1].filter((v) => v !== null).length);
  return fig;
}
