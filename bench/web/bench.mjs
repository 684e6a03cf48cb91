// The dashboard in Chromium, timed (bench/web/run.py starts kanrid):
//   fleet   the fleet page with every VM: navigation to the table drawn
//   chart   one VM's 90-day history: the "90 d" click to every chart on the
//           screen drawn (the page draws the others when scrolled to)
// Each beside its baseline in the same browser: the API request the page
// makes, fetched alone.  Medians of ROUNDS runs; prints JSON.
import { env, launch, newPage, login } from '../../tests/browser/ui.mjs';

const ROUNDS = Number(process.env.ROUNDS || 7);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function timeFetch(page, path) {
  return page.evaluate(async (p) => {
    const t0 = performance.now();
    const r = await fetch('/api/v1' + p, { headers: { Authorization: `Bearer ${sessionStorage.getItem('kanri.token')}` }, cache: 'no-store' });
    await r.json();
    return performance.now() - t0;
  }, path);
}

const browser = await launch();
const page = await newPage(browser);
await login(page);
await page.locator('main[data-ready="true"]').waitFor();
const n = env.args.n_vms;

const fleet = [];
const fleetApi = [];
for (let i = 0; i < ROUNDS; i++) {
  fleetApi.push(await timeFetch(page, '/fleet'));
  await page.evaluate(() => { location.hash = '#/agents'; });
  await page.locator('main[data-ready="true"]').waitFor();
  const t = await page.evaluate(async (want) => {
    document.getElementById('main').removeAttribute('data-ready');
    const t0 = performance.now();
    location.hash = '#/';
    for (;;) {
      await new Promise((r) => requestAnimationFrame(r));
      const rows = document.querySelectorAll('section[aria-label="Virtual machines"] tbody tr').length;
      if (document.querySelector('main[data-ready="true"]') && rows === want) break;
      if (performance.now() - t0 > 30000) throw new Error(`fleet: ${rows} rows after 30 s`);
    }
    // The frame after: layout and paint of what was drawn.
    await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
    return performance.now() - t0;
  }, n);
  fleet.push(t);
}

const chart = [];
const chartDraw = [];
const chartFetch = [];
let chartsShown = 0;
const chartApi = [];
await page.evaluate((u) => { location.hash = `#/vm/${u}`; }, env.args.vm_uuid);
await page.locator('figure.chart').first().waitFor();
for (let i = 0; i < ROUNDS; i++) {
  chartApi.push(await timeFetch(page, `/vms/${env.args.vm_uuid}/metrics?view=reconciled&metric=all&format=columns&from=90d`));
  await page.getByRole('button', { name: '1 h' }).click();
  await page.locator('.charts[data-range="1h"]').waitFor();
  const t = await page.evaluate(async () => {
    let visible = 0;
    const t0 = performance.now();
    [...document.querySelectorAll('.ranges button')].find((b) => b.textContent === '90 d').click();
    for (;;) {
      await new Promise((r) => requestAnimationFrame(r));
      const c = document.querySelector('.charts');
      // Every chart on the screen drawn (the others are drawn when
      // scrolled to).
      const inView = [...c.querySelectorAll('figure.chart')].filter((f) => {
        const r = f.getBoundingClientRect();
        return r.bottom > 0 && r.top < innerHeight;
      });
      if (c.dataset.range === '90d' && inView.length && inView.every((f) => f.dataset.drawn)) {
        visible = inView.length;
        break;
      }
      if (performance.now() - t0 > 30000) throw new Error('90-day charts not drawn after 30 s');
    }
    await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
    return [performance.now() - t0, visible];
  });
  chart.push(t[0]);
  chartsShown = t[1];
  chartDraw.push(Number(await page.locator('.charts').getAttribute('data-render-ms')));
  chartFetch.push(Number(await page.locator('.charts').getAttribute('data-fetch-ms')));
}
const points = await page.locator('figure.chart[data-resource="cpu_demand"]').evaluate((f) => f.counts);
await browser.close();
console.log(JSON.stringify({
  vms: n, rounds: ROUNDS,
  fleet_ms: median(fleet), fleet_api_ms: median(fleetApi),
  chart_90d_ms: median(chart), charts_on_screen: chartsShown, chart_90d_draw_ms: median(chartDraw), chart_90d_fetch_ms: median(chartFetch), chart_90d_api_ms: median(chartApi),
  chart_points_h_g_r: points,
}));
