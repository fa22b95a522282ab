// Drives the demo page in headless Chromium (Debian's /usr/bin/chromium; no browser download):
// loads the page, feeds a photo, waits for the result and writes what the page computed.
//
//   node drive.mjs <page url> <image file> <result.json> <screenshot.png> [benchmark runs]
//
// result.json: {state, status, faces (BlazeFace's, in photo pixels), last (aligned crop,
// input/mask/output arrays from window.faceDemo), canvas (RGBA pixels of the "after"
// canvas), photo (the "photo with the face replaced" canvas as a PNG data URL), benchmark
// (ms per model run), timings (ms from choosing the photo to the result), console}.
import {writeFileSync} from 'node:fs';
import {chromium} from 'playwright-core';

const [url, image, resultPath, screenshot, runsArg] = process.argv.slice(2);
if (!screenshot) {
  console.error('usage: node drive.mjs <url> <image> <result.json> <screenshot.png> [runs]');
  process.exit(2);
}
const runs = Number(runsArg || 5);
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
         '--disable-component-update', '--disable-sync'],
});
const consoleLines = [];
const foreign = [];
try {
  const page = await browser.newPage({viewport: {width: 800, height: 900}});
  const origin = new URL(url).origin;
  page.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => consoleLines.push(`pageerror: ${e.message}`));
  page.on('request', (r) => {
    if (!r.url().startsWith(origin) && !r.url().startsWith('data:') &&
        !r.url().startsWith('blob:')) foreign.push(r.url());
  });
  await page.goto(url);
  const status = page.locator('#status');
  const settled = (states) => page.waitForFunction(
      (s) => s.includes(document.getElementById('status').dataset.state), states,
      {timeout: 120000});
  await settled(['ready', 'error']);
  let result = {};
  if ((await status.getAttribute('data-state')) === 'ready') {
    const start = Date.now();
    await page.setInputFiles('#imageFile', image);
    await settled(['done', 'error']);
    result.timings = {photoToResultMs: Date.now() - start};
  }
  const state = await status.getAttribute('data-state');
  result.state = state;
  result.status = await status.textContent();
  if (state === 'done') {
    result.last = await page.evaluate(() => window.faceDemo.last);
    result.faces = await page.evaluate(() => window.faceDemo.faces);
    result.photo = await page.evaluate(() => document.getElementById('photo').toDataURL());
    result.canvas = await page.evaluate(() => {
      const c = document.getElementById('after');
      return {width: c.width, height: c.height,
              rgba: Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data)};
    });
    result.benchmark = await page.evaluate((n) => window.faceDemo.benchmark(n), runs);
    if (await page.evaluate(() => window.faceDemo.kind === 'inpainting')) {
      // Finger-drawn mask: a stroke across the middle of the "Before" picture.
      await page.selectOption('#maskBox', 'draw');
      const box = await page.locator('#before').boundingBox();
      const y = box.y + box.height / 2;
      await page.mouse.move(box.x + box.width * 0.25, y);
      await page.mouse.down();
      await page.mouse.move(box.x + box.width * 0.75, y, {steps: 8});
      await page.mouse.up();
      await page.waitForFunction(() => window.faceDemo.runs >= 2, null, {timeout: 60000});
      result.drawn = await page.evaluate(() => ({
        state: document.getElementById('status').dataset.state,
        last: window.faceDemo.last}));
    }
  }
  await page.screenshot({path: screenshot, fullPage: true});
  result.console = consoleLines;
  result.foreignRequests = foreign;
  writeFileSync(resultPath, JSON.stringify(result));
} finally {
  await browser.close();
}
