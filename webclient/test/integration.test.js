// Integration with the real gateway (bin/simplegw): MSRP over WebSocket
// through its relay (RFC 7977, RFC 4976), then the whole Client over its SIP
// edge (RFC 7118): REGISTER, page-mode MESSAGE with IMDN, an MSRP chat and a
// file transfer set up with INVITE, presence, and reconnecting after the
// gateway restarts. Node clients use the "ws" package as their WebSocket.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { MsrpConnection } from '../msrp/connection.js';
import { MsrpSession } from '../msrp/session.js';
import { createClient } from '../index.js';
import { startGateway, usersFile } from './gateway.js';
import { randomBytes, sha256, once, importBundle, BrowserWebSocket as WebSocket } from './helpers.js';

// SIP.js opens its WebSocket with the global constructor.
globalThis.WebSocket = WebSocket;

const dec = new TextDecoder();
const USERS = { alice: 'alice-pw', bob: 'bob-pw', carol: 'carol-pw' };
let gw;
const clients = [];

before(async () => {
  gw = await startGateway(['-users', usersFile(USERS), '-domain', 'localhost']);
});

after(async () => {
  await Promise.all(clients.map((c) => c.disconnect().catch(() => {})));
  await gw?.stop();
});

function msrpConnection(user, password) {
  return new MsrpConnection({ url: `ws://${gw.http}/msrp`, username: user, password, WebSocket });
}

function client(user, opts = {}) {
  const c = createClient({
    uri: `sip:${user}@localhost`,
    password: opts.password ?? USERS[user],
    displayName: user[0].toUpperCase() + user.slice(1),
    sipUrl: `ws://${gw.http}/sip`,
    msrpUrl: `ws://${gw.http}/msrp`,
    WebSocket,
    reconnect: { initialDelay: 200, maxDelay: 1000 },
    ...opts,
  });
  clients.push(c);
  return c;
}

/** Resolves with the detail of the first event matching pred, or rejects after ms. */
function waitFor(target, type, pred = () => true, ms = 10000) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no "${type}" event within ${ms} ms`)), ms);
    const l = (e) => {
      if (!pred(e.detail)) return;
      clearTimeout(t);
      target.removeEventListener(type, l);
      resolve(e.detail);
    };
    target.addEventListener(type, l);
  });
}

test('MSRP over WebSocket: two clients AUTH, chat both ways and send a multi-chunk file through the relay', async () => {
  const ca = msrpConnection('alice', USERS.alice);
  const cb = msrpConnection('bob', USERS.bob);
  const [ra, rb] = await Promise.all([ca.connect(), cb.connect()]);
  for (const r of [ra, rb]) {
    assert.equal(r.usePath.length, 1);
    assert.match(r.usePath[0], /^msrp:\/\/127\.0\.0\.1:\d+\/[^;]+;tcp$/, 'Use-Path names the relay TCP listener');
    assert.ok(r.expires > 0);
  }
  const a = new MsrpSession({ connection: ca, localUri: ca.newLocalUri(), usePath: ca.usePath });
  const b = new MsrpSession({ connection: cb, localUri: cb.newLocalUri(), usePath: cb.usePath });
  a.setRemotePath(b.sdpPath);
  b.setRemotePath(a.sdpPath);

  const gotB = once(b, 'message');
  await a.sendMessage('Hi Bob, from Alice through simplegw', 'text/plain').done;
  assert.equal(dec.decode((await gotB).bytes()), 'Hi Bob, from Alice through simplegw');
  const gotA = once(a, 'message');
  await b.sendMessage('Hi Alice!', 'text/plain').done;
  assert.equal(dec.decode((await gotA).bytes()), 'Hi Alice!');

  const data = randomBytes(3 * 1024 * 1024 + 4321);
  const progress = [];
  const file = once(b, 'message');
  const out = a.sendMessage(new Blob([data]), 'application/octet-stream');
  out.addEventListener('progress', (e) => progress.push(e.detail.acked));
  const m = await file;
  await out.done;
  assert.equal(m.size, data.length);
  assert.equal(await sha256(await m.blob().arrayBuffer()), await sha256(data), 'SHA-256 of the received file matches');
  assert.equal(progress.at(-1), data.length, 'success reports covered every byte');
  assert.ok(progress.length > 2, 'progress came from several success reports');
  a.close();
  b.close();
  ca.close();
  cb.close();
});

test('MSRP AUTH with a wrong password is refused, saying so', async () => {
  const c = msrpConnection('alice', 'not-her-password');
  await assert.rejects(c.connect(), (e) => e.code === 403 && /wrong password/.test(e.message));
});

test('connect() with a wrong password rejects with an error that says "wrong password"', async () => {
  const c = client('carol', { password: 'guess' });
  const states = [];
  c.addEventListener('state', (e) => states.push(e.detail.state));
  await assert.rejects(c.connect(), (e) => /wrong password/.test(e.message));
  assert.equal(c.state, 'disconnected');
  assert.deepEqual(states, ['connecting', 'disconnected']);
});

test('REGISTER and page-mode MESSAGE both ways, with IMDN delivery and display notifications', async () => {
  const alice = client('alice');
  const bob = client('bob');
  await Promise.all([alice.connect(), bob.connect()]);
  assert.equal(alice.state, 'connected');
  const got = waitFor(bob, 'message', (d) => d.mode === 'page');
  const delivered = waitFor(alice, 'delivered');
  const { messageId } = await alice.sendMessage('bob', 'Hello Bob, page mode');
  const m = await got;
  assert.equal(m.text, 'Hello Bob, page mode');
  assert.equal(m.from, 'sip:alice@localhost');
  assert.equal(m.fromName, 'Alice');
  assert.equal(m.messageId, messageId);
  assert.equal((await delivered).messageId, messageId, 'positive-delivery IMDN (RFC 5438)');
  const displayed = waitFor(alice, 'displayed');
  await m.markDisplayed();
  assert.equal((await displayed).messageId, messageId);

  const back = waitFor(alice, 'message');
  await bob.sendMessage('sip:alice@localhost', 'Hi Alice', { imdn: false });
  assert.equal((await back).text, 'Hi Alice');

  // is-composing in page mode (RFC 3994).
  const typing = waitFor(bob, 'composing', (d) => d.state === 'active');
  alice.sendComposing('bob', true);
  assert.equal((await typing).from, 'sip:alice@localhost');
  const idle = waitFor(bob, 'composing', (d) => d.state === 'idle');
  alice.sendComposing('bob', false);
  await idle;

  await assert.rejects(alice.sendMessage('nobody', 'anyone?'), (e) => e.code >= 400);
});

test('the bundle (what browsers load) registers and chats with a client built from the modules', async () => {
  const lib = await importBundle();
  const bob = clients.find((c) => c.uri === 'sip:bob@localhost');
  const carol = lib.createClient({ uri: 'sip:carol@localhost', password: USERS.carol, sipUrl: `ws://${gw.http}/sip`, msrpUrl: `ws://${gw.http}/msrp`, WebSocket });
  clients.push(carol);
  await carol.connect();
  const got = waitFor(bob, 'message', (d) => d.from === 'sip:carol@localhost' && d.mode === 'page');
  await carol.sendMessage('bob', 'from the bundle');
  assert.equal((await got).text, 'from the bundle');
  bob.addEventListener('chat', (e) => e.detail.chat.accept(), { once: true });
  const chat = await carol.startChat('bob');
  const inSession = waitFor(bob, 'message', (d) => d.from === 'sip:carol@localhost' && d.mode === 'session');
  await chat.send('bundle over MSRP');
  assert.equal((await inSession).text, 'bundle over MSRP');
  await chat.close();
  await carol.disconnect();
});

test('MSRP chat set up with INVITE: messages both ways, typing, a file, close', async () => {
  const alice = clients.find((c) => c.uri === 'sip:alice@localhost');
  const bob = clients.find((c) => c.uri === 'sip:bob@localhost');
  let accepted;
  bob.addEventListener('chat', (e) => {
    assert.equal(e.detail.kind, 'session');
    assert.equal(e.detail.chat.state, 'incoming');
    accepted = e.detail.chat.accept();
  }, { once: true });
  const chat = await alice.startChat('sip:bob@localhost');
  assert.equal(chat.state, 'open');
  assert.equal(chat.mode, 'session');
  await accepted;
  const bobChat = bob.getChat('alice');
  assert.equal(bobChat.state, 'open');

  const got = waitFor(bobChat, 'message');
  const sent = await chat.send('Hello over MSRP');
  const m = await got;
  assert.equal(m.text, 'Hello over MSRP');
  assert.equal(m.mode, 'session');
  assert.equal(m.messageId, sent.messageId, 'the CPIM imdn.Message-ID carries our id');
  assert.equal(m.fromName, 'Alice');
  const back = waitFor(chat, 'message');
  await bobChat.send('Hello Alice, MSRP here too');
  assert.equal((await back).text, 'Hello Alice, MSRP here too');

  const typing = waitFor(bobChat, 'composing', (d) => d.state === 'active');
  chat.sendComposing(true);
  assert.equal((await typing).mode, 'session');

  // A file in its own MSRP session (RFC 5547), accepted by Bob.
  bobChat.addEventListener('file', (e) => { if (e.detail.transfer.direction === 'incoming') e.detail.transfer.accept(); }, { once: true });
  const data = randomBytes(2 * 1024 * 1024 + 17);
  const incoming = waitFor(bobChat, 'file', (d) => d.transfer.direction === 'incoming');
  const seen = [];
  const t = await chat.sendFile(new File([data], 'report.bin', { type: 'application/octet-stream' }), { onProgress: (n, total) => seen.push([n, total]) });
  assert.equal(t.state, 'done');
  const rt = (await incoming).transfer;
  await rt.done;
  assert.equal(rt.name, 'report.bin');
  assert.equal(rt.size, data.length);
  assert.equal(await sha256(await rt.blob.arrayBuffer()), await sha256(data));
  assert.deepEqual(seen.at(-1), [data.length, data.length]);

  // A declined file.
  bobChat.addEventListener('file', (e) => { if (e.detail.transfer.direction === 'incoming') e.detail.transfer.reject(); }, { once: true });
  await assert.rejects(chat.sendFile(new Blob([new Uint8Array(10)])), /declined/);

  const closed = waitFor(bobChat, 'closed');
  await chat.close();
  await closed;
  assert.equal(chat.state, 'closed');
  // send() opens a new session.
  bob.addEventListener('chat', (e) => e.detail.chat.accept(), { once: true });
  const again = waitFor(bobChat, 'message');
  await chat.send('me again');
  assert.equal((await again).text, 'me again');
  await chat.close();
});

test('a chat with someone offline fails with a clear error; open chats send bodiless SEND keepalives', async () => {
  const alice = clients.find((c) => c.uri === 'sip:alice@localhost');
  const bob = clients.find((c) => c.uri === 'sip:bob@localhost');
  await assert.rejects(alice.startChat('carol'), (e) => e.code >= 400 && /sip:carol@localhost/.test(e.message));
  assert.equal(alice.getChat('carol').state, 'idle');

  const carol = client('carol', { keepaliveInterval: 0.05 });
  await carol.connect();
  const keepalives = [];
  carol.addEventListener('log', (e) => {
    const t = e.detail.text;
    if (e.detail.protocol === 'msrp' && e.detail.direction === 'out' && / SEND\r\n/.test(t) && !/Content-Type/.test(t)) keepalives.push(t);
  });
  bob.addEventListener('chat', (e) => e.detail.chat.accept(), { once: true });
  const chat = await carol.startChat('bob');
  await new Promise((r) => setTimeout(r, 400));
  assert.ok(keepalives.length >= 3, `${keepalives.length} keepalives`);
  assert.match(keepalives[0], /Byte-Range: 1-0\/0/);
  assert.equal(chat.state, 'open');
  await chat.close();
  await carol.disconnect();
  assert.equal(carol.state, 'disconnected');
});

test('presence: watch a peer and see its PUBLISH', async () => {
  const alice = clients.find((c) => c.uri === 'sip:alice@localhost');
  const bob = clients.find((c) => c.uri === 'sip:bob@localhost');
  const open = waitFor(bob, 'presence', (d) => d.status === 'open' && d.note === 'At my desk');
  await bob.watch('alice');
  await alice.setPresence({ status: 'open', note: 'At my desk' });
  assert.equal((await open).uri, 'sip:alice@localhost');
  const closed = waitFor(bob, 'presence', (d) => d.status === 'closed');
  await alice.setPresence({ status: 'closed' });
  await closed;
});

test('after the gateway restarts the client reconnects and registers again', async () => {
  const alice = clients.find((c) => c.uri === 'sip:alice@localhost');
  const bob = clients.find((c) => c.uri === 'sip:bob@localhost');
  const addrs = { http: gw.http, msrp: gw.msrp, sip: gw.sip };
  const lost = waitFor(alice, 'state', (d) => d.state === 'reconnecting');
  await gw.stop();
  await lost;
  gw = await startGateway(['-users', usersFile(USERS), '-domain', 'localhost'], addrs);
  await Promise.all([
    alice.state === 'connected' ? null : waitFor(alice, 'state', (d) => d.state === 'connected', 20000),
    bob.state === 'connected' ? null : waitFor(bob, 'state', (d) => d.state === 'connected', 20000),
  ]);
  const got = waitFor(bob, 'message', (d) => d.text === 'still there?');
  await alice.sendMessage('bob', 'still there?');
  await got;
});
