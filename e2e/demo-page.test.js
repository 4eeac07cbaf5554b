// The demo page as a page: server URLs prefilled from its origin, URL
// parameters that prefill the form, settings and contacts kept in
// localStorage (the password only when asked), sign-in with the keyboard
// alone, labelled fields and a live message list, and the collapsible raw
// protocol log.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gatewayAndBrowser, withDiagnostics, User } from './helpers.js';

const fx = gatewayAndBrowser();

test('demo page: prefill, stored settings, keyboard sign-in, labels, protocol log', { timeout: 60000 }, async () => {
  const { gw, browser, users } = fx;
  await withDiagnostics('demo-page', () => ({ gateways: [gw], users }), async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    context.setDefaultTimeout(15000);
    const page = await context.newPage();
    users.push(new User(context, page, 'sip:dora@localhost'));
    const origin = gw.url.replace(/^http/, 'ws');

    // Server URLs come from the page's own origin.
    await page.goto(`${gw.url}/`);
    assert.equal(await page.getByTestId('login-sip-url').inputValue(), `${origin}/sip`);
    assert.equal(await page.getByTestId('login-msrp-url').inputValue(), `${origin}/msrp`);
    assert.equal(await page.getByTestId('login-error').isVisible(), false);

    // Every field has a label a screen reader announces.
    for (const label of ['SIP address', 'Password', 'Display name (optional)', 'SIP WebSocket URL', 'MSRP WebSocket URL']) {
      assert.equal(await page.getByLabel(label, { exact: true }).count(), 1, `field labelled ${label}`);
    }

    // URL parameters prefill the form.
    await page.goto(`${gw.url}/?uri=${encodeURIComponent('sip:dora@localhost')}&name=Dora`);
    assert.equal(await page.getByTestId('login-uri').inputValue(), 'sip:dora@localhost');
    assert.equal(await page.getByTestId('login-display-name').inputValue(), 'Dora');

    // Keyboard only: from the address field, Tab to the password, type, Enter.
    await page.getByTestId('login-uri').focus();
    await page.keyboard.press('Tab');
    assert.equal(await page.getByTestId('login-password').evaluate((el) => el === document.activeElement), true, 'Tab reaches the password');
    await page.keyboard.type('secret');
    await page.keyboard.press('Enter');
    await page.locator('[data-testid="reg-status"][data-state="registered"]').waitFor();
    assert.match(await page.getByTestId('me').textContent(), /Dora/);

    // A contact typed as a bare name gets the user's domain; Tab and Enter open it.
    await page.getByTestId('add-contact-input').fill('erin');
    await page.getByTestId('add-contact-input').press('Enter');
    const conv = page.locator('[data-testid="conversation"][data-peer="sip:erin@localhost"]');
    await conv.waitFor({ state: 'visible' });
    // The composer has the focus, the message list is a live region.
    assert.equal(await conv.getByTestId('composer').evaluate((el) => el === document.activeElement), true);
    const list = conv.getByTestId('messages');
    assert.equal(await list.getAttribute('role'), 'log');
    assert.equal(await list.getAttribute('aria-live'), 'polite');
    assert.equal(await conv.getByLabel('Message to erin').count(), 1);

    // The protocol log is collapsed, counts traffic, and shows the REGISTER.
    const log = page.getByTestId('raw-log');
    assert.equal(await log.evaluate((d) => /** @type {HTMLDetailsElement} */ (d).open), false);
    await log.locator('summary').first().focus();
    await page.keyboard.press('Enter');
    assert.equal(await log.evaluate((d) => /** @type {HTMLDetailsElement} */ (d).open), true, 'Enter opens the log');
    const register = page.getByTestId('raw-log-list').locator('li[data-protocol="SIP"]').filter({ hasText: 'REGISTER sip:localhost' }).first();
    await register.waitFor({ state: 'visible' });
    // Unticking SIP hides the SIP lines.
    await log.getByLabel('SIP', { exact: true }).uncheck();
    await register.waitFor({ state: 'hidden' });
    await log.getByLabel('SIP', { exact: true }).check();

    // Reload: the address and name are remembered, the password is not.
    await page.reload();
    assert.equal(await page.getByTestId('login-uri').inputValue(), 'sip:dora@localhost');
    assert.equal(await page.getByTestId('login-display-name').inputValue(), 'Dora');
    assert.equal(await page.getByTestId('login-password').inputValue(), '');
    // Unless asked to: then it is.
    await page.getByTestId('login-password').fill('secret');
    await page.getByTestId('login-remember').check();
    await page.getByTestId('login-submit').click();
    await page.locator('[data-testid="reg-status"][data-state="registered"]').waitFor();
    // The contact list is kept per account.
    await page.locator('[data-testid="contact"][data-uri="sip:erin@localhost"]').waitFor();
    await page.getByTestId('logout').click();
    await page.getByTestId('login-form').waitFor();
    await page.reload();
    assert.equal(await page.getByTestId('login-password').inputValue(), 'secret');
    await context.close();
  });
});
