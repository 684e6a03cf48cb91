// node tests/browser/run.mjs SCENARIO: runs one scenario of scenarios.mjs
// against the kanrid named by KANRI_URL; exit 0 when it passed.
import * as scenarios from './scenarios.mjs';
import { launch } from './ui.mjs';

const name = process.argv[2];
const fn = scenarios[name];
if (!fn) {
  console.error(`no scenario '${name}' (have: ${Object.keys(scenarios).join(', ')})`);
  process.exit(2);
}
const browser = await launch();
let code = 0;
try {
  await fn(browser);
  console.log(`scenario ${name}: passed`);
} catch (e) {
  console.error(`scenario ${name}: FAILED\n${e.stack || e}`);
  code = 1;
} finally {
  await browser.close();
}
process.exit(code);
