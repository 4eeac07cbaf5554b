// Chunking and reassembly (RFC 4975 §5.1, §7.1.1, §7.3.1), reports (§7.1.3,
// §7.3.2), abort "#" and 413 (§10.5), between two MsrpSessions through an
// in-memory relay that reorders, splits and duplicates chunks.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Reassembler, RangeSet } from '../msrp/reassembly.js';
import { MsrpSession } from '../msrp/session.js';
import { FakeRelay, randomBytes, sha256, once } from './helpers.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

test('reassembly: out of order chunks, "$" last or first', () => {
  const data = enc.encode('0123456789abcdefghij');
  for (const order of [[0, 1, 2, 3], [3, 2, 1, 0], [2, 0, 3, 1]]) {
    const r = new Reassembler();
    for (const i of order) {
      const s = i * 5;
      assert.ok(r.add(s + 1, data.subarray(s, s + 5), i === 3 ? '$' : '+', 20).ok);
      assert.equal(r.complete, order.indexOf(i) === 3);
    }
    assert.equal(dec.decode(r.bytes()), '0123456789abcdefghij');
  }
});

test('reassembly: overlapping chunks, the last received wins (RFC 4975 §7.3.1)', () => {
  // "bytes 1 to 100 were received and a chunk arrives that contains bytes 50 to 150"
  const r = new Reassembler();
  r.add(1, new Uint8Array(100).fill(1), '+', 150);
  r.add(50, new Uint8Array(101).fill(2), '$', 150);
  const b = r.bytes();
  assert.ok(r.complete);
  assert.equal(b.length, 150);
  assert.ok(b.subarray(0, 49).every((x) => x === 1));
  assert.ok(b.subarray(49).every((x) => x === 2));
  // A chunk inside another one splits it; duplicates change nothing.
  const s = new Reassembler();
  s.add(1, enc.encode('aaaaaaaaaa'), '$', 10);
  s.add(4, enc.encode('XY'), '+', 10);
  s.add(4, enc.encode('XY'), '+', 10);
  assert.equal(dec.decode(s.bytes()), 'aaaXYaaaaa');
  assert.deepEqual(s.ranges(), [[1, 10]]);
  assert.equal(s.received, 10);
});

test('reassembly: a short chunk counts by its body, "$" fixes the total, limits hold', () => {
  const r = new Reassembler();
  r.add(1, enc.encode('abc'), '+', null);
  assert.deepEqual(r.ranges(), [[1, 3]]);
  r.add(7, enc.encode('ghi'), '$', null);
  assert.equal(r.total, 9);
  assert.equal(r.complete, false, 'bytes 4-6 missing');
  assert.deepEqual(r.ranges(), [[1, 3], [7, 9]]);
  r.add(4, enc.encode('def'), '+', null);
  assert.equal(dec.decode(r.bytes()), 'abcdefghi');
  const small = new Reassembler({ maxSize: 10 });
  assert.equal(small.add(1, new Uint8Array(5), '+', 11).ok, false, 'declared total over the limit');
  assert.equal(new Reassembler({ maxSize: 10 }).add(8, new Uint8Array(5), '+', null).ok, false, 'data past the limit');
  const t = new Reassembler();
  t.add(1, new Uint8Array(5), '$', 5);
  assert.equal(t.add(4, new Uint8Array(5), '+', 5).ok, false, 'past the total');
  const empty = new Reassembler();
  empty.add(1, new Uint8Array(0), '$', 0);
  assert.ok(empty.complete);
});

test('RangeSet merges success-report ranges', () => {
  const s = new RangeSet();
  s.add(1, 10);
  s.add(21, 30);
  assert.equal(s.covers(30), false);
  s.add(11, 20);
  assert.deepEqual(s.ranges, [[1, 30]]);
  assert.ok(s.covers(30));
  s.add(5, 40);
  assert.deepEqual(s.ranges, [[1, 40]]);
  assert.equal(s.size, 40);
});

function pair(relayOpts = {}, sessionOpts = {}) {
  const relay = new FakeRelay(relayOpts);
  const ca = relay.connect('a');
  const cb = relay.connect('b');
  const a = new MsrpSession({ connection: ca, localUri: 'msrp://aaaa.invalid:2855/sA;ws', usePath: ca.usePath, ...sessionOpts });
  const b = new MsrpSession({ connection: cb, localUri: 'msrp://bbbb.invalid:2855/sB;ws', usePath: cb.usePath, ...sessionOpts });
  a.setRemotePath(b.sdpPath);
  b.setRemotePath(a.sdpPath);
  return { relay, a, b, ca, cb };
}

test('text both ways with success reports', async () => {
  const { a, b, relay } = pair();
  const gotB = once(b, 'message');
  const out = a.sendMessage('Hi, I\'m Alice!', 'text/plain');
  const m = await gotB;
  assert.equal(dec.decode(m.bytes()), 'Hi, I\'m Alice!');
  assert.equal(m.contentType, 'text/plain');
  await out.done;
  assert.equal(out.state, 'delivered');
  const gotA = once(a, 'message');
  await b.sendMessage('Hi, Alice!  I\'m Bob!', 'text/plain').done;
  assert.equal(dec.decode((await gotA).bytes()), 'Hi, Alice!  I\'m Bob!');
  // What went over the wire: one chunk each, Byte-Range with the total,
  // To-Path through both relay URIs (RFC 7977 §8.3), a REPORT back.
  const send = relay.log.find((x) => x.method === 'SEND');
  assert.deepEqual(send.byteRange, { start: 1, end: 14, total: 14 });
  assert.equal(send.successReport, 'yes');
  assert.deepEqual(send.toPath, ['msrp://relay.example.com:2855/arelay;tcp', 'msrp://relay.example.com:2855/brelay;tcp', 'msrp://bbbb.invalid:2855/sB;ws']);
  const report = relay.log.find((x) => x.method === 'REPORT');
  assert.equal(report.statusHeader.code, 200);
  assert.deepEqual(report.toPath, ['msrp://relay.example.com:2855/brelay;tcp', 'msrp://relay.example.com:2855/arelay;tcp', 'msrp://aaaa.invalid:2855/sA;ws']);
  a.close();
  b.close();
});

for (const [name, relayOpts] of [
  ['in order', {}],
  ['reordered', { shuffle: true }],
  ['reordered, re-chunked by the relay and partly duplicated', { shuffle: true, split: 10000, duplicate: 0.3 }],
]) {
  test(`a 1 MiB Blob in 64 KiB chunks, ${name}, arrives whole with report-driven progress`, async () => {
    const { a, b, ca } = pair(relayOpts, { reportEvery: 200000 });
    const data = randomBytes(1024 * 1024 + 123);
    const blob = new Blob([data]);
    // Reading by slices, never the whole file.
    let sliced = 0;
    const origSlice = blob.slice.bind(blob);
    blob.slice = (s, e, t) => { sliced++; return origSlice(s, e, t); };
    const progress = [];
    const gotB = once(b, 'message');
    const incoming = once(b, 'incoming');
    const out = a.sendMessage(blob, 'application/octet-stream', { headers: [['Content-Disposition', 'attachment; filename="x.bin"']] });
    out.addEventListener('progress', (e) => progress.push(e.detail.acked));
    const first = await incoming;
    assert.equal(first.contentType, 'application/octet-stream');
    const m = await gotB;
    await out.done;
    assert.equal(m.size, data.length);
    assert.equal(await sha256(await m.blob().arrayBuffer()), await sha256(data));
    assert.deepEqual(m.headers, [['Content-Disposition', 'attachment; filename="x.bin"']]);
    assert.equal(sliced, Math.ceil(data.length / 65536));
    const chunks = ca.sent.filter((x) => x.method === 'SEND');
    assert.equal(chunks.length, 17);
    assert.ok(chunks.slice(0, -1).every((c) => c.flag === '+' && c.body.length === 65536));
    assert.equal(chunks[16].flag, '$');
    assert.deepEqual(chunks[16].byteRange, { start: 16 * 65536 + 1, end: data.length, total: data.length });
    assert.ok(progress.length >= 2, 'incremental success reports');
    assert.equal(progress[progress.length - 1], data.length);
    a.close();
    b.close();
  });
}

test('abort: the sender ends the message with "#" (RFC 4975 §7.1)', async () => {
  const { a, b, ca } = pair({}, { window: 1 });
  const aborted = once(b, 'aborted');
  const out = a.sendMessage(new Blob([randomBytes(400000)]), 'application/octet-stream');
  await once(b, 'progress');
  out.abort();
  await assert.rejects(out.done, /aborted/);
  assert.equal((await aborted).reason, 'aborted by the sender');
  const last = ca.sent.filter((x) => x.method === 'SEND').at(-1);
  assert.equal(last.flag, '#');
  assert.equal(b.incoming.size, 0);
  a.close();
  b.close();
});

test('413: the receiver refuses the rest of a message and the sender stops (RFC 4975 §10.5)', async () => {
  const { a, b, ca } = pair({}, { window: 2 });
  b.addEventListener('incoming', (e) => b.refuse(e.detail.messageId));
  const out = a.sendMessage(new Blob([randomBytes(2 * 1024 * 1024)]), 'application/octet-stream');
  await assert.rejects(out.done, (e) => e.code === 413);
  const sends = ca.sent.filter((x) => x.method === 'SEND').length;
  assert.ok(sends < 32, `stopped after ${sends} of 32 chunks`);
  a.close();
  b.close();
});

test('unsupported types get 415 and too large messages 413 (RFC 4975 §7.3.1)', async () => {
  const { a, b } = pair({}, {});
  b.acceptTypes = ['text/plain'];
  b.maxSize = 1000;
  await assert.rejects(a.sendMessage(new Uint8Array(5), 'image/png').done, (e) => e.code === 415);
  await assert.rejects(a.sendMessage(new Uint8Array(5000), 'text/plain').done, (e) => e.code === 413);
  a.close();
  b.close();
});

test('bodiless SEND is a keepalive: answered, no message (RFC 7977 §6)', async () => {
  const { a, b } = pair();
  let messages = 0;
  b.addEventListener('message', () => messages++);
  await a.sendBodiless();
  assert.equal(messages, 0);
  a.close();
  b.close();
});

test('a closed peer session answers 481 and messages fail', async () => {
  const { a, b } = pair();
  b.close();
  await assert.rejects(a.sendMessage('hello?', 'text/plain').done, (e) => e.code === 481);
  a.close();
});

test('Failure-Report "no": no responses, no reports wanted (RFC 4975 §7.1.4)', async () => {
  const { a, b, cb } = pair();
  const got = once(b, 'message');
  const out = a.sendMessage('<isComposing/>', 'application/im-iscomposing+xml', { successReport: false, failureReport: 'no' });
  await got;
  await out.done;
  assert.equal(cb.sent.length, 0, 'the receiver sent nothing back');
  a.close();
  b.close();
});

test('messages go out in call order; a request method other than SEND gets 501', async () => {
  const { a, b } = pair();
  const seen = [];
  b.addEventListener('message', (e) => seen.push(dec.decode(e.detail.bytes())));
  const outs = ['one', 'two', 'three'].map((t) => a.sendMessage(t, 'text/plain'));
  await Promise.all(outs.map((o) => o.done));
  assert.deepEqual(seen, ['one', 'two', 'three']);
  const res = await a.requestMethod('NICKNAME', [['Use-Nickname', '"x"']]);
  assert.equal(res.status, 501);
  a.close();
  b.close();
});
