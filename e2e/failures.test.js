// What a user sees when things go wrong: a wrong password (the gateway runs
// with a users file, so passwords matter), a peer that is not online, and a
// gateway restart, after which the page reconnects and registers again by
// itself.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, launchBrowser, signIn, withDiagnostics } from './helpers.js';

/** @type {import('playwright-core').Browser|null} */ let browser = null;
/** @type {import('./helpers.js').Gateway[]} */ const gateways = [];

async function getBrowser() {
  browser ??= await launchBrowser();
  return browser;
}

after(async () => {
  await browser?.close();
  for (const g of gateways) await g.stop();
});

test('wrong password: the sign-in form shows the error; the right one registers', { timeout: 60000 }, async () => {
  const gw = await startGateway({ users: { alice: 'correct horse', bob: 'battery staple' } });
  gateways.push(gw);
  /** @type {import('./helpers.js').User[]} */ const users = [];
  await withDiagnostics('wrong-password', () => ({ gateways: [gw], users }), async () => {
    const b = await getBrowser();
    const alice = await signIn(b, gw, { uri: 'sip:alice@localhost', password: 'wrong', expect: 'error' });
    users.push(alice);
    const err = alice.page.getByTestId('login-error');
    await err.waitFor({ state: 'visible' });
    const text = await err.textContent();
    assert.match(text, /password|40[13]|forbidden|unauthori[sz]ed/i, `error shown: ${text}`);
    assert.equal(await alice.page.getByTestId('login-error').getAttribute('role'), 'alert');
    // Still on the form, not registered, and the button works again.
    assert.equal(await alice.page.getByTestId('login-form').isVisible(), true);
    assert.notEqual(await alice.page.getByTestId('reg-status').getAttribute('data-state'), 'registered');
    assert.equal(await alice.page.getByTestId('login-submit').isEnabled(), true);

    // The right password from the same form registers.
    await alice.page.getByTestId('login-password').fill('correct horse');
    await alice.page.getByTestId('login-submit').click();
    await alice.page.locator('[data-testid="reg-status"][data-state="registered"]').waitFor();
    assert.equal(await alice.page.getByTestId('login-error').isVisible(), false);
  });
});

test('peer offline: a message and a session to an absent user fail visibly', { timeout: 60000 }, async () => {
  const gw = await startGateway();
  gateways.push(gw);
  /** @type {import('./helpers.js').User[]} */ const users = [];
  await withDiagnostics('peer-offline', () => ({ gateways: [gw], users }), async () => {
    const b = await getBrowser();
    const alice = await signIn(b, gw, { uri: 'sip:alice@localhost', name: 'Alice' });
    users.push(alice);
    const bob = await signIn(b, gw, { uri: 'sip:bob@localhost', name: 'Bob' });
    users.push(bob);

    // Nobody ever registered as carol.
    const conv = await alice.type('sip:carol@localhost', 'Are you there, Carol?');
    const msg = conv.locator('[data-testid="message"][data-direction="out"]').filter({ hasText: 'Are you there, Carol?' });
    await msg.and(alice.page.locator('[data-status="failed"]')).waitFor();
    const why = msg.getByTestId('message-error');
    await why.waitFor({ state: 'visible' });
    assert.match(await why.textContent(), /not delivered/i);
    assert.match(await why.textContent(), /40[48]|480|not available|does not exist|unavailable|not found/i);

    // Starting a session with her fails visibly too, and the window stays in page mode.
    await conv.getByTestId('start-session').click();
    const sessionError = conv.getByTestId('session-error');
    await sessionError.waitFor({ state: 'visible' });
    assert.match(await sessionError.textContent(), /could not start/i);
    assert.equal(await conv.getByTestId('chat-mode').getAttribute('data-mode'), 'page');

    // Bob was online, then signs out: a message to him now fails the same way.
    await alice.type('sip:bob@localhost', 'Hi Bob');
    await bob.conversation('sip:alice@localhost').locator('[data-testid="message"][data-direction="in"]').filter({ hasText: 'Hi Bob' }).waitFor();
    await bob.page.getByTestId('logout').click();
    await bob.page.getByTestId('login-form').waitFor({ state: 'visible' });
    const bConv = await alice.type('sip:bob@localhost', 'Still there?');
    const late = bConv.locator('[data-testid="message"][data-direction="out"]').filter({ hasText: 'Still there?' });
    await late.and(alice.page.locator('[data-status="failed"]')).waitFor();
    await late.getByTestId('message-error').waitFor({ state: 'visible' });
  });
});

test('gateway restart: the page reconnects and registers again, then chats work', { timeout: 90000 }, async () => {
  const gw = await startGateway();
  gateways.push(gw);
  /** @type {import('./helpers.js').User[]} */ const users = [];
  await withDiagnostics('restart', () => ({ gateways: [gw], users }), async () => {
    const b = await getBrowser();
    const alice = await signIn(b, gw, { uri: 'sip:alice@localhost', name: 'Alice' });
    users.push(alice);
    const bob = await signIn(b, gw, { uri: 'sip:bob@localhost', name: 'Bob' });
    users.push(bob);
    await alice.type('sip:bob@localhost', 'before the restart');
    await bob.conversation('sip:alice@localhost').getByText('before the restart').waitFor();

    // Record every state the badge shows from now on.
    for (const u of [alice, bob]) {
      await u.page.evaluate(() => {
        const badge = /** @type {HTMLElement} */ (document.querySelector('[data-testid="reg-status"]'));
        const seen = /** @type {string[]} */ ([]);
        /** @type {any} */ (window).badgeStates = seen;
        new MutationObserver(() => seen.push(badge.dataset.state || '')).observe(badge, { attributes: true, attributeFilter: ['data-state'] });
      });
    }

    // Same ports, new process: the embedded registrar starts empty.
    await gw.restart();
    for (const u of [alice, bob]) {
      await u.page.locator('[data-testid="reg-status"][data-state="registered"]').waitFor({ timeout: 45000 });
      const states = await u.page.evaluate(() => /** @type {any} */ (window).badgeStates);
      assert.ok(states.includes('reconnecting'), `${u.uri}: badge states ${JSON.stringify(states)} should include "reconnecting"`);
      assert.equal(states.at(-1), 'registered', `${u.uri}: badge states ${JSON.stringify(states)}`);
    }

    // The new registrar knows both again: page mode both ways.
    const bConv = await bob.type('sip:alice@localhost', 'after the restart');
    await alice.conversation('sip:bob@localhost').locator('[data-testid="message"][data-direction="in"]').filter({ hasText: 'after the restart' }).waitFor();
    await bConv.locator('[data-testid="message"][data-direction="out"][data-status]').filter({ hasText: 'after the restart' })
      .and(bob.page.locator('[data-status="sent"], [data-status="delivered"], [data-status="displayed"]')).waitFor();
    // And the relay: a new MSRP session.
    const aConv = await alice.open('sip:bob@localhost');
    await aConv.getByTestId('start-session').click();
    const bAccept = bob.conversation('sip:alice@localhost').getByTestId('accept-chat');
    await bAccept.click();
    await aConv.locator('[data-testid="chat-mode"][data-mode="session"]').waitFor();
    await aConv.getByTestId('composer').fill('MSRP after the restart');
    await aConv.getByTestId('composer').press('Enter');
    await aConv.locator('[data-testid="message"][data-mode="session"][data-status="delivered"]').filter({ hasText: 'MSRP after the restart' }).waitFor();
    await bob.conversation('sip:alice@localhost').locator('[data-testid="message"][data-direction="in"][data-mode="session"]').filter({ hasText: 'MSRP after the restart' }).waitFor();
  });
});
