// MsrpConnection against a scripted relay behind a fake WebSocket: AUTH with
// Digest (RFC 4976 §5.1, §9.1), 403 and 423 answers, dispatch by To-Path with
// 481 for unknown sessions (RFC 4975 §7.3), and what a closed socket does.

import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { MsrpConnection, relayUriFor } from '../msrp/connection.js';
import { MsrpSession } from '../msrp/session.js';
import { parseMessage, serializeMessage, MsrpMessage, responseTo } from '../msrp/codec.js';
import { parseAuthParams } from '../msrp/digest.js';
import { md5Hex } from '../msrp/md5.js';

/** A WebSocket whose server side is a function answering each message. */
function fakeWebSocket(server) {
  return class FakeWS {
    constructor(url, protocol) {
      this.url = url;
      this.requested = protocol;
      this.protocol = 'msrp';
      this.readyState = 0;
      this.bufferedAmount = 0;
      FakeWS.last = this;
      setImmediate(() => { this.readyState = 1; this.onopen?.(); });
    }
    send(bytes) {
      const msg = parseMessage(bytes);
      for (const out of server(msg, this) ?? []) setImmediate(() => this.onmessage?.({ data: serializeMessage(out).buffer }));
    }
    push(msg, asText = false) {
      const b = serializeMessage(msg);
      this.onmessage?.({ data: asText ? new TextDecoder().decode(b) : b.buffer });
    }
    close(code = 1000, reason = '') {
      if (this.readyState === 3) return;
      this.readyState = 3;
      setImmediate(() => this.onclose?.({ code, reason }));
    }
  };
}

const USE_PATH = 'msrp://127.0.0.1:2855/r3l4y;tcp';

/** A relay that challenges, checks the digest with password "pw" and grants a URI. */
function relay(opts = {}) {
  const seen = [];
  const server = (m) => {
    seen.push(m);
    if (m.method !== 'AUTH') return [];
    const self = m.toPath[0];
    const authz = m.get('Authorization');
    if (!authz) {
      const r = responseTo(m, 401, 'Unauthorized', self);
      r.headers.push(['WWW-Authenticate', 'Digest realm="localhost", nonce="n0nce", qop="auth"']);
      return [r];
    }
    const { params: p } = parseAuthParams(authz);
    const ha1 = md5Hex(`${p.username}:${p.realm}:pw`);
    const ha2 = md5Hex(`AUTH:${p.uri}`);
    const want = md5Hex(`${ha1}:${p.nonce}:${p.nc}:${p.cnonce}:${p.qop}:${ha2}`);
    if (p.response !== want) return [responseTo(m, 403, 'Forbidden', self)];
    if (opts.maxExpires && Number(m.get('Expires')) > opts.maxExpires) {
      const r = responseTo(m, 423, 'Interval Out-of-Bounds', self);
      r.headers.push(['Max-Expires', String(opts.maxExpires)]);
      return [r];
    }
    const r = responseTo(m, 200, 'OK', self);
    r.headers.push(['Use-Path', USE_PATH], ['Expires', m.get('Expires') ?? '3600']);
    return [r];
  };
  return { server, seen };
}

test('relay URI for AUTH follows the WebSocket URL (RFC 7977 §8.1)', () => {
  assert.equal(relayUriFor('ws://127.0.0.1:8080/msrp'), 'msrp://127.0.0.1:8080;ws');
  assert.equal(relayUriFor('wss://gw.example.com/msrp'), 'msrps://gw.example.com:443;ws');
  assert.equal(relayUriFor('ws://[::1]:9/msrp'), 'msrp://[::1]:9;ws');
});

test('AUTH: 401 challenge, Digest answer, 200 with Use-Path and Expires', async () => {
  const r = relay();
  const WS = fakeWebSocket(r.server);
  const logs = [];
  const c = new MsrpConnection({ url: 'ws://127.0.0.1:8080/msrp', username: 'alice', password: 'pw', WebSocket: WS, log: (d, t) => logs.push(d) });
  const res = await c.connect();
  assert.deepEqual(res.usePath, [USE_PATH]);
  assert.equal(res.expires, 86400);
  assert.equal(WS.last.requested, 'msrp', 'subprotocol "msrp" (RFC 7977 §4.1)');
  assert.equal(r.seen.length, 2);
  const [first, second] = r.seen;
  assert.equal(first.get('Authorization'), undefined);
  assert.deepEqual(first.toPath, ['msrp://127.0.0.1:8080;ws']);
  assert.match(first.fromPath[0], /^msrp:\/\/[a-z0-9]{12}\.invalid:2855\/[A-Za-z0-9]{20};ws$/);
  assert.notEqual(first.transactionId, second.transactionId);
  const { params } = parseAuthParams(second.get('Authorization'));
  assert.equal(params.uri, 'msrp://127.0.0.1:8080;ws', 'the rightmost To-Path URI (RFC 4976 §9.1)');
  assert.equal(params.nc, '00000001');
  assert.ok(logs.includes('out') && logs.includes('in'));
  c.close();
  assert.equal(c.state, 'closed');
});

test('AUTH: a wrong password is reported as such', async () => {
  const c = new MsrpConnection({ url: 'ws://127.0.0.1:8080/msrp', username: 'alice', password: 'nope', WebSocket: fakeWebSocket(relay().server) });
  await assert.rejects(c.connect(), (e) => e.code === 403 && /wrong password/.test(e.message));
  assert.equal(c.state, 'closed');
});

test('AUTH: 423 lowers Expires to Max-Expires (RFC 4976 §6.3)', async () => {
  const r = relay({ maxExpires: 3600 });
  const c = new MsrpConnection({ url: 'ws://h:1/msrp', username: 'alice', password: 'pw', WebSocket: fakeWebSocket(r.server) });
  const res = await c.connect();
  assert.equal(res.expires, 3600);
  assert.deepEqual(r.seen.map((m) => m.get('Expires')), ['86400', '86400', '3600']);
  const { params } = parseAuthParams(r.seen[2].get('Authorization'));
  assert.equal(params.nc, '00000002', 'nonce count goes up with the same nonce');
  c.close();
});

test('AUTH: a relay that never answers fails within the connect timeout', async () => {
  const c = new MsrpConnection({ url: 'ws://h:1/msrp', username: 'a', password: 'b', WebSocket: fakeWebSocket(() => []), connectTimeout: 200 });
  await assert.rejects(c.connect(), /did not answer/);
});

test('incoming requests: dispatch by To-Path, 481 for unknown sessions, text frames too', async () => {
  const r = relay();
  const WS = fakeWebSocket(r.server);
  const c = new MsrpConnection({ url: 'ws://h:1/msrp', username: 'alice', password: 'pw', WebSocket: WS });
  await c.connect();
  const ws = WS.last;
  const s = new MsrpSession({ connection: c, localUri: c.newLocalUri(), usePath: c.usePath, remotePath: ['msrp://peer.invalid:2855/p;ws'] });
  const got = new Promise((res) => s.addEventListener('message', (e) => res(e.detail)));
  const send = (to, text) => new MsrpMessage({
    method: 'SEND', toPath: [to], fromPath: [USE_PATH, 'msrp://peer.invalid:2855/p;ws'],
    headers: [['Message-ID', 'mid12345'], ['Byte-Range', `1-${text.length}/${text.length}`]], contentType: 'text/plain', body: new TextEncoder().encode(text),
  });
  r.seen.length = 0;
  ws.push(send(s.localUri, 'hello over a text frame'), true);
  const m = await got;
  assert.equal(new TextDecoder().decode(m.bytes()), 'hello over a text frame');
  await new Promise((res) => setImmediate(res));
  assert.equal(r.seen[0].status, 200);
  assert.deepEqual(r.seen[0].toPath, [USE_PATH], '200 goes to the previous hop');
  const other = s.localUri.replace(/\/[A-Za-z0-9]+;ws$/, '/unknownSession;ws');
  ws.push(send(other, 'nobody home'));
  await new Promise((res) => setImmediate(res));
  assert.equal(r.seen[1].status, 481);
  // Garbage is dropped without an answer.
  ws.onmessage({ data: new TextEncoder().encode('GARBAGE\r\n').buffer });
  await new Promise((res) => setImmediate(res));
  assert.equal(r.seen.length, 2);
  c.close();
});

test('a closed socket fails pending transactions and ends sessions, and says it was unexpected', async () => {
  const r = relay();
  const WS = fakeWebSocket((m) => (m.method === 'AUTH' ? r.server(m) : []));
  const c = new MsrpConnection({ url: 'ws://h:1/msrp', username: 'alice', password: 'pw', WebSocket: WS });
  await c.connect();
  const s = new MsrpSession({ connection: c, localUri: c.newLocalUri(), usePath: c.usePath, remotePath: ['msrp://peer.invalid:2855/p;ws'] });
  const out = s.sendMessage('lost', 'text/plain');
  const closed = new Promise((res) => c.addEventListener('close', (e) => res(e.detail)));
  const ended = new Promise((res) => s.addEventListener('closed', (e) => res(e.detail)));
  await new Promise((res) => setImmediate(res));
  WS.last.readyState = 3;
  WS.last.onclose({ code: 1006, reason: '' });
  assert.equal((await closed).unexpected, true);
  assert.ok((await ended).error);
  await assert.rejects(out.done, /closed/);
  assert.ok(s.closed);
});

test('the relay URI is refreshed with a new AUTH before it expires (RFC 4976 §5.1)', async () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    const r = relay();
    let grant = 0;
    const server = (m) => {
      const out = r.server(m);
      for (const res of out) {
        if (res.status === 200) {
          grant++;
          res.headers = res.headers.map(([n, v]) => (n === 'Use-Path' ? [n, `msrp://127.0.0.1:2855/grant${grant};tcp`] : n === 'Expires' ? [n, '100'] : [n, v]));
        }
      }
      return out;
    };
    const c = new MsrpConnection({ url: 'ws://h:1/msrp', username: 'alice', password: 'pw', WebSocket: fakeWebSocket(server), expires: 100 });
    const res = await c.connect();
    assert.deepEqual(res.usePath, ['msrp://127.0.0.1:2855/grant1;tcp']);
    assert.equal(res.expires, 100);
    mock.timers.tick(89000);
    await new Promise((res2) => setImmediate(res2));
    assert.equal(r.seen.length, 2, 'not yet');
    mock.timers.tick(1000);
    for (let i = 0; i < 6; i++) await new Promise((res2) => setImmediate(res2));
    assert.equal(r.seen.length, 4, 'AUTH, challenge answered, again');
    assert.equal(r.seen[2].get('Authorization'), undefined);
    assert.deepEqual(c.usePath, ['msrp://127.0.0.1:2855/grant2;tcp'], 'new sessions get the new URI');
    c.close();
  } finally {
    mock.timers.reset();
  }
});
