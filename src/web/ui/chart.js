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

// The columns of a history reply (format=columns): its times in seconds and
// each metric's values aligned on them (null: no figure then, drawn as a
// gap, never made up).
export function columns(reply) {
  const src = (reply.sources && reply.sources[0]) || { t: [], series: [] };
  const by = Object.fromEntries(src.series.map((s) => [s.metric, s.v]));
  return { x: src.t, get: (metric) => by[metric] || new Array(src.t.length).fill(null) };
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

// Draws into a new <figure> the SERIES ([{label, values, stroke, dash,
// width}], VALUES aligned on X, seconds); FROM and TO (seconds) fix the
// time axis.
export function hgrChart({ title, unit, x, series, bands = [], from, to, width = 560, height = 180 }) {
  const data = [x, ...series.map((s) => s.values)];
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
  fig.counts = series.map((s, i) => data[i + 1].filter((v) => v !== null).length);
  if (fig.counts.every((n) => n === 0)) {
    caption.appendChild(h('span', { class: 'chart-empty' }, ' — no figure in this range'));
  }
  // Drawn when it comes into view: a VM page has eleven charts, most of
  // them below the fold.
  const box = h('div', { class: 'chart-box' });
  box.style.minHeight = `${height + 56}px`;
  fig.appendChild(box);
  whenVisible(fig, () => {
    fig.plot = new uPlot(opts, data, box);
    fig.dataset.drawn = 'true';
  });
  return fig;
}

let observer = null;
function whenVisible(el, draw) {
  if (typeof IntersectionObserver === 'undefined') { draw(); return; }
  if (!observer) {
    observer = new IntersectionObserver((entries) => {
      for (const e of entries) {
        if (!e.isIntersecting || !e.target.drawChart) continue;
        observer.unobserve(e.target);
        const draw1 = e.target.drawChart;
        e.target.drawChart = null;
        draw1();
      }
    }, { rootMargin: '300px 0px' });
  }
  el.drawChart = draw;
  observer.observe(el);
}

// Frees the charts under ROOT (uPlot listens on the window until then).
export function disposeCharts(root) {
  for (const fig of root.querySelectorAll('figure.chart')) {
    if (observer) observer.unobserve(fig);
    fig.drawChart = null;
    if (fig.plot) { fig.plot.destroy(); fig.plot = null; }
  }
}
