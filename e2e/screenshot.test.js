// The demo in use, as pictures: the "two users side by side" page (two
// frames, each its own client, signed in by URL parameters) in a chat with
// page-mode and session-mode messages and a file, and one single-user window
// with its protocol log open. Saved in e2e/artifacts/ (gitignored) for people
// to look at; the test also checks what the pictures should show.

import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { gatewayAndBrowser, withDiagnostics, ARTIFACTS, User } from './helpers.js';

const fx = gatewayAndBrowser();

before(() => {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
});

test('screenshot: two users side by side in a chat', { timeout: 60000 }, async () => {
  const { gw, browser, users } = fx;
  await withDiagnostics('screenshot', () => ({ gateways: [gw], users }), async () => {
    const context = await browser.newContext({ viewport: { width: 1440, height: 860 } });
    context.setDefaultTimeout(15000);
    const page = await context.newPage();
    const user = new User(context, page, 'split page');
    users.push(user);
    await page.goto(`${gw.url}/split.html?left=alice&right=bob`);

    const left = page.frameLocator('[data-testid="split-frame-left"]');
    const right = page.frameLocator('[data-testid="split-frame-right"]');
    // Both frames sign in by themselves and open the chat with each other.
    await left.locator('[data-testid="reg-status"][data-state="registered"]').waitFor();
    await right.locator('[data-testid="reg-status"][data-state="registered"]').waitFor();
    const a = left.locator('[data-testid="conversation"][data-peer="sip:bob@localhost"]');
    const b = right.locator('[data-testid="conversation"][data-peer="sip:alice@localhost"]');
    await a.waitFor({ state: 'visible' });
    await b.waitFor({ state: 'visible' });

    const say = async (/** @type {typeof a} */ conv, /** @type {string} */ text) => {
      await conv.getByTestId('composer').fill(text);
      await conv.getByTestId('composer').press('Enter');
    };
    await say(a, 'Hi Bob! This one is a SIP MESSAGE (page mode).');
    await b.locator('[data-testid="message"][data-direction="in"]').filter({ hasText: 'page mode' }).waitFor();
    await say(b, 'Hello Alice, got it. Shall we switch to MSRP?');
    await a.locator('[data-testid="message"][data-direction="in"]').filter({ hasText: 'switch to MSRP' }).waitFor();

    await a.getByTestId('start-session').click();
    await b.getByTestId('accept-chat').click();
    await a.locator('[data-testid="chat-mode"][data-mode="session"]').waitFor();
    await b.locator('[data-testid="chat-mode"][data-mode="session"]').waitFor();
    await say(a, 'Now we are in an MSRP session, relayed by simplegw.');
    await b.locator('[data-testid="message"][data-direction="in"][data-mode="session"]').waitFor();
    await a.locator('[data-testid="message"][data-mode="session"][data-status="delivered"]').waitFor();

    await a.getByTestId('file-input').setInputFiles({ name: 'meeting-notes.pdf', mimeType: 'application/pdf', buffer: Buffer.alloc(180 * 1024, 7) });
    const offered = b.locator('[data-testid="message"][data-kind="file"]').filter({ hasText: 'meeting-notes.pdf' });
    await offered.getByTestId('file-accept').click();
    await offered.getByTestId('file-download').waitFor();
    await a.locator('[data-testid="message"][data-kind="file"][data-status="delivered"]').waitFor();
    await say(b, 'Thanks, the notes arrived.');
    await a.locator('[data-testid="message"][data-direction="in"]').filter({ hasText: 'notes arrived' }).waitFor();
    // Bob starts typing a reply: Alice's window shows it.
    await b.getByTestId('composer').pressSequentially('One more thing', { delay: 15 });
    await a.getByTestId('typing').waitFor({ state: 'visible' });

    const split = path.join(ARTIFACTS, 'demo-side-by-side.png');
    await page.screenshot({ path: split });
    assert.ok(fs.statSync(split).size > 20000, 'screenshot written');

    // One window alone, with the protocol log open.
    const solo = await context.newPage();
    users.push(new User(context, solo, 'carol'));
    await solo.setViewportSize({ width: 1280, height: 800 });
    await solo.goto(`${gw.url}/?slot=carol&uri=sip:carol@localhost&name=Carol&password=x&peer=sip:alice@localhost&autoconnect=1`);
    await solo.locator('[data-testid="reg-status"][data-state="registered"]').waitFor();
    const c = solo.locator('[data-testid="conversation"][data-peer="sip:alice@localhost"]');
    await c.getByTestId('composer').fill('Alice, are you free for lunch?');
    await c.getByTestId('composer').press('Enter');
    await c.locator('[data-testid="message"][data-status="delivered"], [data-testid="message"][data-status="displayed"]').waitFor();
    await solo.getByTestId('raw-log').locator('summary').first().click();
    await solo.getByTestId('raw-log-list').locator('li').filter({ hasText: 'MESSAGE sip:alice@localhost' }).first().waitFor();
    const logShot = path.join(ARTIFACTS, 'demo-protocol-log.png');
    await solo.screenshot({ path: logShot });
    assert.ok(fs.statSync(logShot).size > 20000, 'screenshot written');
    await context.close();
  });
});
