// A browser and a plain SIP/MSRP user agent: `msrpcat ua`, registered with
// the gateway over SIP/TCP, with its MSRP endpoint on TCP. The gateway's
// relay carries the bytes between the browser's WebSocket and msrpcat's TCP
// socket (RFC 4976, RFC 7977).
//
//  1. The browser starts the chat (INVITE), sends a text and a 20 MiB file
//     (RFC 5547); msrpcat prints the text and the file's SHA-256, which must
//     be the SHA-256 of the bytes the browser was given.
//  2. msrpcat calls the browser (--call) with a text; the browser accepts
//     the session and shows the message.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gatewayAndBrowser, signIn, withDiagnostics, Msrpcat } from './helpers.js';

const ALICE = 'sip:alice@localhost';
const BOB = 'sip:bob@localhost';
const FILE_SIZE = 20 * 1024 * 1024;

/** @type {Msrpcat[]} */ const peers = [];
/** @type {string} */ let dir;

const fx = gatewayAndBrowser();

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'simplegw-e2e-msrpcat-'));
});

after(async () => {
  for (const p of peers) await p.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/**
 * Adds msrpcat's output to a failure.
 * @param {() => Promise<void>} fn
 */
async function withPeers(fn) {
  try {
    await fn();
  } catch (err) {
    const e = /** @type {Error} */ (err);
    e.message += peers.map((p) => `\n\nmsrpcat ${p.args.join(' ')}\nstdout:\n${p.out.tail()}\nstderr:\n${p.err.tail()}`).join('');
    throw e;
  }
}

test('browser ↔ msrpcat ua over SIP/TCP and MSRP/TCP: text, a 20 MiB file, and a call from msrpcat', { timeout: 150000 }, async () => {
  const { gw, browser, users } = fx;
  await withPeers(() => withDiagnostics('msrpcat', () => ({ gateways: [gw], users }), async () => {
    // Bob is msrpcat: it answers INVITEs and prints what arrives.
    const bob = new Msrpcat(['ua', '--register', BOB, '--via', gw.addr.sip, '--transport', 'tcp',
      '--listen', '127.0.0.1:0', '--dir', dir, '--timeout', '140s']);
    peers.push(bob);
    await bob.waitFor(/^registered sip:bob@localhost\b/);

    const alice = await signIn(browser, gw, { uri: ALICE, name: 'Alice' });
    users.push(alice);

    // 1a. The browser starts the session; msrpcat answers with its TCP path.
    const conv = await alice.open(BOB);
    await conv.getByTestId('start-session').click();
    await conv.locator('[data-testid="chat-mode"][data-mode="session"]').waitFor();
    const incoming = await bob.waitFor(/^incoming sip:alice@localhost\b/);
    const session = await bob.waitFor(/^session (\S+) (.+)$/, { from: incoming.index });
    assert.match(session.match[1], /^msrp:\/\/127\.0\.0\.1:\d+\/\S+;tcp$/, 'msrpcat listens on MSRP/TCP');
    assert.match(session.match[2], /;ws\b/, 'the browser path is a WebSocket URI behind the relay');

    // 1b. Text: msrpcat prints it; the browser shows it delivered.
    const text = 'Hello msrpcat, greetings from a browser';
    await conv.getByTestId('composer').fill(text);
    await conv.getByTestId('composer').press('Enter');
    // (Typing state travels as messages too, RFC 3994; msrpcat prints those as well.)
    const got = await bob.waitFor(/^message .*Hello msrpcat, greetings from a browser/, { from: session.index });
    assert.match(got.line, /^message \S+;ws message\/cpim /, 'CPIM-wrapped (RFC 3862), from the browser\'s ws path');
    await conv.locator('[data-testid="message"][data-mode="session"][data-status="delivered"]').filter({ hasText: text }).waitFor();

    // 1c. A 20 MiB file: same SHA-256 on both ends, progress shown while it goes.
    const bytes = crypto.randomBytes(FILE_SIZE);
    const sha = crypto.createHash('sha256').update(bytes).digest('hex');
    await conv.getByTestId('file-input').setInputFiles({ name: 'big-20MiB.bin', mimeType: 'application/octet-stream', buffer: bytes });
    const card = conv.locator('[data-testid="message"][data-kind="file"][data-direction="out"]').filter({ hasText: 'big-20MiB.bin' });
    await card.waitFor();
    await card.and(alice.page.locator('[data-transfer="transferring"]')).waitFor({ timeout: 30000 });
    const file = await bob.waitFor(/^file (\S+) (\d+) sha256=([0-9a-f]{64})$/, { timeout: 120000 });
    assert.equal(Number(file.match[2]), FILE_SIZE, 'msrpcat got every byte');
    assert.equal(file.match[3], sha, 'msrpcat printed the SHA-256 of the bytes the browser sent');
    assert.equal(crypto.createHash('sha256').update(fs.readFileSync(file.match[1])).digest('hex'), sha, 'saved file');
    await card.and(alice.page.locator('[data-status="delivered"]')).waitFor({ timeout: 30000 });

    // The browser ends the chat; msrpcat sees the BYE. Then it leaves (un-REGISTER).
    const before = bob.out.all.length;
    await conv.getByTestId('end-session').click();
    await conv.locator('[data-testid="chat-mode"][data-mode="page"]').waitFor();
    await bob.waitFor(/^bye$/, { from: before });
    await bob.stop();

    // 2. msrpcat calls the browser with a text.
    const hello = 'Hi Alice, msrpcat calling over MSRP/TCP';
    const caller = new Msrpcat(['ua', '--register', BOB, '--via', gw.addr.sip, '--transport', 'tcp',
      '--listen', '127.0.0.1:0', '--dir', dir, '--call', ALICE, '--send', hello, '--timeout', '60s']);
    peers.push(caller);
    await caller.waitFor(/^registered sip:bob@localhost\b/);
    await conv.getByTestId('chat-offer').waitFor({ state: 'visible' });
    await conv.getByTestId('accept-chat').click();
    const msg = conv.locator('[data-testid="message"][data-direction="in"][data-mode="session"]').filter({ hasText: hello });
    try {
      await msg.waitFor({ state: 'visible' });
    } catch (err) {
      const out = caller.out.all;
      if (out.some((l) => l.startsWith('sent ')) && out.includes('bye')) {
        /** @type {Error} */ (err).message = 'the browser never showed the message msrpcat reports as "sent"; msrpcat hung up ' +
          '(BYE) as soon as the first hop answered 200. Through a relay that 200 is hop-by-hop (RFC 4976 §3), so the BYE ' +
          'can reach the browser before the relayed SEND does, and the browser has closed the session by then. ' +
          `${/** @type {Error} */ (err).message}`;
      }
      throw err;
    }
    assert.equal(await msg.getByTestId('message-text').textContent(), hello);
    await caller.waitFor(/^sent \d+ sha256=/);
    // msrpcat hangs up once its message is delivered; the window returns to page mode.
    await caller.waitFor(/^bye$/);
    await conv.locator('[data-testid="chat-mode"][data-mode="page"]').waitFor();
    const [code2] = await caller.exited;
    assert.equal(code2, 0, 'calling msrpcat exit status');
  }));
});
