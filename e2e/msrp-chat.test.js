// An MSRP chat between two browsers through the gateway's relay (RFC 4975,
// RFC 4976, RFC 7977): Alice starts the session with INVITE, Bob accepts,
// messages travel both ways in the session and each side sees the delivery
// ticks its peer's success report gives; then a file crosses the session and
// the receiver gets a download link; ending the session is seen by both.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { gatewayAndBrowser, signIn, withDiagnostics } from './helpers.js';

const ALICE = 'sip:alice@localhost';
const BOB = 'sip:bob@localhost';

const fx = gatewayAndBrowser();

test('MSRP chat between two browsers: session set-up, messages both ways, delivery ticks, a file accepted and one declined', { timeout: 90000 }, async () => {
  const { gw, browser, users } = fx;
  await withDiagnostics('msrp-chat', () => ({ gateways: [gw], users }), async () => {
    const alice = await signIn(browser, gw, { uri: ALICE, name: 'Alice' });
    users.push(alice);
    const bob = await signIn(browser, gw, { uri: BOB, name: 'Bob' });
    users.push(bob);

    // Alice starts the session; Bob is offered it and accepts.
    const aConv = await alice.open(BOB);
    await aConv.getByTestId('start-session').click();
    const bConv = bob.conversation(ALICE);
    await bConv.getByTestId('chat-offer').waitFor({ state: 'visible' });
    await bConv.getByTestId('accept-chat').click();
    await aConv.locator('[data-testid="chat-mode"][data-mode="session"]').waitFor();
    await bConv.locator('[data-testid="chat-mode"][data-mode="session"]').waitFor();

    // Alice → Bob in the session; her ticks reach "delivered".
    await aConv.getByTestId('composer').fill('Hello over MSRP');
    await aConv.getByTestId('send').click();
    const aOut = aConv.locator('[data-testid="message"][data-direction="out"]').filter({ hasText: 'Hello over MSRP' });
    assert.equal(await aOut.getAttribute('data-mode'), 'session');
    await aOut.and(alice.page.locator('[data-status="delivered"], [data-status="displayed"]')).waitFor();
    const bIn = bConv.locator('[data-testid="message"][data-direction="in"]').filter({ hasText: 'Hello over MSRP' });
    await bIn.waitFor({ state: 'visible' });
    assert.equal(await bIn.getAttribute('data-mode'), 'session');

    // Bob types in the session: Alice sees it. Then Bob → Alice.
    await bConv.getByTestId('composer').pressSequentially('Hi Alice', { delay: 20 });
    await aConv.getByTestId('typing').waitFor({ state: 'visible' });
    await bConv.getByTestId('composer').pressSequentially(', ünïcödé and a newline', { delay: 2 });
    await bConv.getByTestId('composer').press('Shift+Enter');
    await bConv.getByTestId('composer').pressSequentially('second line');
    await bConv.getByTestId('composer').press('Enter');
    const text = 'Hi Alice, ünïcödé and a newline\nsecond line';
    const bOut = bConv.locator('[data-testid="message"][data-direction="out"]').last();
    assert.equal(await bOut.getByTestId('message-text').textContent(), text);
    await bOut.and(bob.page.locator('[data-status="delivered"], [data-status="displayed"]')).waitFor();
    const aIn = aConv.locator('[data-testid="message"][data-direction="in"][data-mode="session"]').last();
    await aIn.waitFor({ state: 'visible' });
    assert.equal(await aIn.getByTestId('message-text').textContent(), text);
    await aConv.getByTestId('typing').waitFor({ state: 'hidden' });

    // A burst keeps its order.
    for (let i = 1; i <= 5; i++) {
      await aConv.getByTestId('composer').fill(`burst ${i}`);
      await aConv.getByTestId('composer').press('Enter');
    }
    await bConv.locator('[data-testid="message"][data-direction="in"]').filter({ hasText: 'burst 5' }).waitFor();
    const got = await bConv.locator('[data-testid="message"][data-direction="in"] [data-testid="message-text"]').allTextContents();
    assert.deepEqual(got.filter((t) => t.startsWith('burst')), ['burst 1', 'burst 2', 'burst 3', 'burst 4', 'burst 5']);
    for (let i = 1; i <= 5; i++) {
      await aConv.locator('[data-testid="message"][data-direction="out"]').filter({ hasText: `burst ${i}` })
        .and(alice.page.locator('[data-status="delivered"], [data-status="displayed"]')).waitFor();
    }

    // A file: progress bar on Alice's side, accept and a download link on Bob's,
    // and the downloaded bytes are the sent bytes.
    const bytes = crypto.randomBytes(300 * 1024);
    await aConv.getByTestId('file-input').setInputFiles({ name: 'notes.bin', mimeType: 'application/octet-stream', buffer: bytes });
    const aFile = aConv.locator('[data-testid="message"][data-kind="file"][data-direction="out"]').filter({ hasText: 'notes.bin' });
    await aFile.waitFor();
    const bFile = bConv.locator('[data-testid="message"][data-kind="file"][data-direction="in"]').filter({ hasText: 'notes.bin' });
    await bFile.waitFor();
    await bFile.getByTestId('file-accept').click(); // RFC 5547: the receiver accepts the offer
    const link = bFile.getByTestId('file-download');
    await link.waitFor();
    await aFile.and(alice.page.locator('[data-status="delivered"]')).waitFor();
    const [download] = await Promise.all([bob.page.waitForEvent('download'), link.click()]);
    assert.equal(download.suggestedFilename(), 'notes.bin');
    const chunks = [];
    for await (const c of await download.createReadStream()) chunks.push(c);
    const received = Buffer.concat(chunks);
    assert.equal(received.length, bytes.length);
    assert.equal(crypto.createHash('sha256').update(received).digest('hex'), crypto.createHash('sha256').update(bytes).digest('hex'));

    // A second file, declined by Bob: Alice's bubble says so.
    await aConv.getByTestId('file-input').setInputFiles({ name: 'unwanted.bin', mimeType: 'application/octet-stream', buffer: Buffer.alloc(4096, 1) });
    const bOffer = bConv.locator('[data-testid="message"][data-kind="file"][data-direction="in"]').filter({ hasText: 'unwanted.bin' });
    await bOffer.getByTestId('file-decline').click();
    const aDeclined = aConv.locator('[data-testid="message"][data-kind="file"][data-direction="out"]').filter({ hasText: 'unwanted.bin' });
    await aDeclined.and(alice.page.locator('[data-status="failed"]')).waitFor();
    assert.match(await aDeclined.getByTestId('message-error').textContent(), /declined/i);

    // Bob ends the session; both windows go back to page mode.
    await bConv.getByTestId('end-session').click();
    await bConv.locator('[data-testid="chat-mode"][data-mode="page"]').waitFor();
    await aConv.locator('[data-testid="chat-mode"][data-mode="page"]').waitFor();

    assert.equal(await alice.page.locator('[data-status="failed"]').count(), 1, 'only the declined file failed');
    assert.equal(await bob.page.locator('[data-status="failed"]').count(), 0);
  });
});
