// Two browsers sign in through the demo page and exchange page-mode
// messages (SIP MESSAGE, RFC 3428) through the real gateway, both ways, and
// each sees the other typing (RFC 3994 status messages).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gatewayAndBrowser, signIn, withDiagnostics } from './helpers.js';

const ALICE = 'sip:alice@localhost';
const BOB = 'sip:bob@localhost';

const fx = gatewayAndBrowser();

test('page mode: register two browsers, MESSAGE both ways, typing indicator', { timeout: 60000 }, async () => {
  const { gw, browser, users } = fx;
  await withDiagnostics('page-mode', () => ({ gateways: [gw], users }), async () => {
    const alice = await signIn(browser, gw, { uri: ALICE, name: 'Alice' });
    users.push(alice);
    const bob = await signIn(browser, gw, { uri: BOB, name: 'Bob' });
    users.push(bob);

    // The badge says so and the header names the user.
    assert.match(await alice.page.getByTestId('reg-status').textContent(), /registered/i);
    assert.match(await alice.page.getByTestId('me').textContent(), /alice@localhost/);

    // Alice → Bob. Bob has no conversation open: the message opens one.
    const aConv = await alice.type(BOB, 'Hello Bob, this is a SIP MESSAGE');
    assert.equal(await aConv.getByTestId('chat-mode').getAttribute('data-mode'), 'page');
    const aOut = aConv.locator('[data-testid="message"][data-direction="out"]').filter({ hasText: 'Hello Bob, this is a SIP MESSAGE' });
    await aOut.and(alice.page.locator('[data-status="sent"], [data-status="delivered"], [data-status="displayed"]')).waitFor();
    assert.equal(await aOut.getAttribute('data-mode'), 'page');

    const bConv = bob.conversation(ALICE);
    const bIn = bConv.locator('[data-testid="message"][data-direction="in"]').filter({ hasText: 'Hello Bob, this is a SIP MESSAGE' });
    await bIn.waitFor({ state: 'visible' });
    assert.equal(await bIn.getAttribute('data-mode'), 'page');
    // A timestamp with a machine-readable date.
    const when = await bIn.locator('time').getAttribute('datetime');
    assert.ok(when && !Number.isNaN(Date.parse(when)), `timestamp: ${when}`);
    // The sender appears in Bob's contact list by itself.
    await bob.contact(ALICE).waitFor();
    // Bob's page confirmed delivery (IMDN, RFC 5438): Alice's ticks say so.
    await aOut.and(alice.page.locator('[data-status="delivered"], [data-status="displayed"]')).waitFor();

    // Bob types without sending: Alice sees "typing".
    await bConv.getByTestId('composer').pressSequentially('Hi Al', { delay: 20 });
    const aTyping = aConv.getByTestId('typing');
    await aTyping.waitFor({ state: 'visible' });
    assert.match(await aTyping.textContent(), /typing/i);

    // Bob → Alice: the message arrives and the typing indicator goes away.
    await bConv.getByTestId('composer').pressSequentially('ice, got it!', { delay: 5 });
    await bConv.getByTestId('composer').press('Enter');
    const aIn = aConv.locator('[data-testid="message"][data-direction="in"]').filter({ hasText: 'Hi Alice, got it!' });
    await aIn.waitFor({ state: 'visible' });
    assert.equal(await aIn.getAttribute('data-mode'), 'page');
    await aTyping.waitFor({ state: 'hidden' });
    const bOut = bConv.locator('[data-testid="message"][data-direction="out"]').filter({ hasText: 'Hi Alice, got it!' });
    await bOut.and(bob.page.locator('[data-status="sent"], [data-status="delivered"], [data-status="displayed"]')).waitFor();

    // Alice types, Bob sees it too (the other direction of RFC 3994).
    await aConv.getByTestId('composer').pressSequentially('One more', { delay: 20 });
    await bConv.getByTestId('typing').waitFor({ state: 'visible' });
    await aConv.getByTestId('composer').press('Enter');
    await bConv.locator('[data-testid="message"][data-direction="in"]').filter({ hasText: 'One more' }).waitFor();
    await bConv.getByTestId('typing').waitFor({ state: 'hidden' });

    // Nothing failed on the way.
    assert.equal(await alice.page.locator('[data-status="failed"]').count(), 0);
    assert.equal(await bob.page.locator('[data-status="failed"]').count(), 0);
  });
});
