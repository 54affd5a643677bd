// The operations page in a real browser (Debian's Chromium, driven by
// playwright-core): sign in with the token, find a lead added through
// SalesMan, reveal its contacts, retry a dead delivery once its target is
// fixed and watch it become delivered, run Translate, save a screenshot.
// tests/ops_page.rs starts the gateway and runs this with:
// ADMIN_URL, ADMIN_TOKEN, FIX_URL, LEAD_ID, SCREENSHOT (CHROMIUM optional).
import { chromium } from 'playwright-core';

const admin = process.env.ADMIN_URL;
const token = process.env.ADMIN_TOKEN;
const fixUrl = process.env.FIX_URL;
const leadId = process.env.LEAD_ID;

function check(condition, message) {
  if (!condition) {
    throw new Error('ops page: ' + message);
  }
  console.log('ok: ' + message);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu'],
});
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const failed = [];
  page.on('requestfailed', (request) => failed.push(request.url()));

  // Signed out: the sign-in form and nothing else.
  await page.goto(`${admin}/`);
  check(await page.locator('input[name=token]').count() === 1, 'a signed-out visit gets the sign-in form');
  check(await page.locator('#leads').count() === 0, 'and no data');

  // Signing in with the token once: the cookie, and a URL without it.
  await page.goto(`${admin}/?token=${encodeURIComponent(token)}`);
  await page.waitForSelector('#leads');
  check(!page.url().includes(token), 'the token is not left in the address bar');
  const cookies = await context.cookies();
  const session = cookies.find((cookie) => cookie.name === 'leadgate_admin');
  check(session && session.httpOnly && session.sameSite === 'Strict', 'the session cookie is HttpOnly and SameSite=Strict');
  check(!session.value.includes(token), 'the cookie is not the token');

  // The SalesMan lead in Recent leads, its contacts masked until revealed.
  const lead = page.locator(`#leads tr[data-lead="${leadId}"]`);
  const leadText = await lead.textContent();
  check(leadText.includes('Анна Петрова') && leadText.includes('salesman'), 'the SalesMan lead is in Recent leads');
  check(!leadText.includes('111-22-33'), 'its phone is masked');
  await lead.locator('button[data-action=reveal]').click();
  await page.waitForFunction((id) =>
    document.querySelector(`#leads tr[data-lead="${id}"] .contacts`).textContent.includes('111-22-33'), leadId);
  check(true, 'reveal shows the contacts');

  // The dead delivery (the target answered 422), retried once it is fixed.
  const dead = page.locator(`#dead tr[data-lead="${leadId}"]`);
  const deadText = await dead.textContent();
  check(deadText.includes('dead') && deadText.includes('422'), 'the dead delivery shows its last error');
  await fetch(fixUrl, { method: 'POST' });
  await dead.locator('button[data-action=retry]').click();
  await page.waitForFunction((id) => {
    const state = document.querySelector(`#dead tr[data-lead="${id}"] .state`);
    return state && state.textContent === 'delivered';
  }, leadId, { timeout: 20000 });
  check(true, 'Retry after the fix shows it delivered');
  await page.locator('#dead').screenshot({ path: process.env.SCREENSHOT.replace(/\.png$/, '-retried.png') });

  // Translate: a SalesMan request as Bitrix24 would get it.
  await page.selectOption('#translate select[name=from]', 'salesman');
  await page.selectOption('#translate select[name=to]', 'bitrix24');
  await page.fill('#translate textarea[name=request]', 'action=add&title=Анна&phone=89001112233&path=Звонок');
  await Promise.all([page.waitForNavigation(), page.click('#translate input[type=submit]')]);
  const preview = await page.locator('#preview').textContent();
  check(preview.includes('crm.lead.add') && preview.includes('CALL'), 'Translate shows the Bitrix24 request');

  // The chart is drawn on the server, nothing is fetched from elsewhere.
  check(await page.locator('#traffic svg polyline').count() > 0, 'the traffic chart has lines');
  check(failed.length === 0, 'no request failed: ' + failed.join(', '));

  await page.goto(`${admin}/#dead`);
  await page.screenshot({ path: process.env.SCREENSHOT, fullPage: true });
  console.log('ops page: all steps passed');
} finally {
  await browser.close();
}
