// MSRP SDP (RFC 4975 §8, RFC 7977 §5.2.2, RFC 6135 §4.2, RFC 5547) and the
// offer/answer of two MsrpCalls through the SessionDescriptionHandler that
// SIP.js drives.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { msrpMedia, parseSdp, buildMsrpSdp, formatFileSelector, parseFileSelector, acceptsType, answerSetup, offererIsActive } from '../sdp.js';
import { MsrpCall } from '../call.js';
import { MsrpSessionDescriptionHandler, extractSdp } from '../sip/sdh.js';
import { FakeRelay } from './helpers.js';

test('RFC 4975 §8.7 and RFC 7977 §8.3.1 examples', () => {
  const a = msrpMedia(['v=0', 'o=usera 2890844526 2890844527 IN IP4 alice.example.com', 's= -', 'c=IN IP4 alice.example.com', 't=0 0',
    'm=message 7394 TCP/MSRP *', 'a=accept-types:message/cpim text/plain text/html', 'a=path:msrp://alice.example.com:7394/2s93i93idj;tcp', ''].join('\r\n'))[0];
  assert.equal(a.port, 7394);
  assert.equal(a.proto, 'TCP/MSRP');
  assert.equal(a.connection, 'alice.example.com');
  assert.deepEqual(a.acceptTypes, ['message/cpim', 'text/plain', 'text/html']);
  assert.deepEqual(a.path, ['msrp://alice.example.com:7394/2s93i93idj;tcp']);
  assert.equal(a.setup, undefined);
  assert.equal(a.direction, 'sendrecv');
  const carol = msrpMedia(['v=0', 'c=IN IP4 a.example.com', 'm=message 1234 TCP/TLS/MSRP *', 'a=accept-types:message/cpim text/plain',
    'a=path:msrps://a.example.com:2855/iwnslt;tcp msrps://jk9awp14vj8x.invalid:2855/76qwe;ws'].join('\n'))[0];
  assert.deepEqual(carol.path, ['msrps://a.example.com:2855/iwnslt;tcp', 'msrps://jk9awp14vj8x.invalid:2855/76qwe;ws']);
  // Legacy protos of early drafts are read too; other media are not MSRP.
  assert.equal(msrpMedia('v=0\r\nm=message 9 TCP/WSS/MSRP *\r\na=path:msrp://x:1/y;ws\r\n').length, 1);
  assert.equal(msrpMedia('v=0\r\nm=audio 9 RTP/AVP 0\r\n').length, 0);
  assert.throws(() => parseSdp('m=message 1 TCP/MSRP *'), /v=/);
});

test('RFC 5547 §9.1 offer: file attributes, sendonly, multipart body', () => {
  const sdp = ['v=0', 'o=alice 2890844526 2890844526 IN IP4 alicepc.example.com', 's=', 'c=IN IP4 alicepc.example.com', 't=0 0',
    'm=message 7654 TCP/MSRP *', 'i=This is my latest picture', 'a=sendonly', 'a=accept-types:message/cpim', 'a=accept-wrapped-types:*',
    'a=path:msrp://alicepc.example.com:7654/jshA7we;tcp',
    'a=file-selector:name:"My cool picture.jpg" type:image/jpeg size:4092 hash:sha-1:72:24:5F:E8:65:3D:DA:F3:71:36:2F:86:D4:71:91:3E:E4:A2:CE:2E',
    'a=file-transfer-id:Q6LMoGymJdh0IKIgD6wD0jkcfgva4xvE', 'a=file-disposition:render', 'a=file-date:creation:"Mon, 15 May 2006 15:01:31 +0300"',
    'a=file-icon:cid:id2@alicepc.example.com', ''].join('\r\n');
  const body = ['--boundary71', 'Content-Type: application/sdp', 'Content-Length: 123', '', sdp, '--boundary71', 'Content-Type: image/jpeg',
    'Content-ID: <id2@alicepc.example.com>', '', '[icon]', '--boundary71--', ''].join('\r\n');
  const m = msrpMedia(extractSdp(body))[0];
  assert.equal(m.direction, 'sendonly');
  assert.deepEqual(m.fileSelector, {
    name: 'My cool picture.jpg', type: 'image/jpeg', size: 4092,
    hashes: [{ algorithm: 'sha-1', value: '72:24:5F:E8:65:3D:DA:F3:71:36:2F:86:D4:71:91:3E:E4:A2:CE:2E' }],
  });
  assert.equal(m.fileTransferId, 'Q6LMoGymJdh0IKIgD6wD0jkcfgva4xvE');
  assert.equal(m.fileDisposition, 'render');
  assert.equal(m.fileDate, 'creation:"Mon, 15 May 2006 15:01:31 +0300"');
  assert.deepEqual(m.acceptWrappedTypes, ['*']);
  // Session-level direction applies to the media line (RFC 5547 §8.2.1).
  assert.equal(msrpMedia('v=0\r\na=recvonly\r\nm=message 9 TCP/MSRP *\r\na=path:msrp://x:1/y;tcp\r\n')[0].direction, 'recvonly');
});

test('file-selector names are percent-encoded where RFC 5547 §6 says so', () => {
  const sel = { name: 'a "quoted" 100%/x\\y é.txt', type: 'text/plain;charset="utf-8"', size: 12 };
  const v = formatFileSelector(sel);
  assert.equal(v, 'name:"a %22quoted%22 100%25%2Fx%5Cy é.txt" type:text/plain;charset="utf-8" size:12');
  assert.deepEqual(parseFileSelector(v), sel);
  assert.deepEqual(parseFileSelector(''), {});
});

test('accept-types matching (RFC 4975 §8.6)', () => {
  const table = [
    [['text/plain'], 'text/plain;charset=utf-8', true],
    [['text/*'], 'text/html', true],
    [['*'], 'image/png', true],
    [['message/cpim'], 'text/plain', false],
    [['Text/Plain'], 'text/plain', true],
    [['application/im-iscomposing+xml'], 'application/im-iscomposing+xml', true],
  ];
  for (const [list, type, want] of table) assert.equal(acceptsType(list, type), want, `${list} ∋ ${type}`);
});

test('a=setup negotiation of RFC 6135 §4.2', () => {
  assert.equal(answerSetup('actpass'), 'active');
  assert.equal(answerSetup('passive'), 'active');
  assert.equal(answerSetup('active'), 'passive');
  assert.equal(answerSetup(undefined), 'passive', 'RFC 4975 §8.5: without a=setup the offerer connects');
  assert.equal(offererIsActive('active'), false);
  assert.equal(offererIsActive('passive'), true);
  assert.equal(offererIsActive(undefined), true);
});

test('built SDP: TCP/TLS/MSRP, port 9, relay host in c=, explicit a=setup', () => {
  const sdp = buildMsrpSdp({
    path: ['msrp://127.0.0.1:2855/abc;tcp', 'msrp://x.invalid:2855/def;ws'],
    acceptTypes: ['message/cpim', 'text/plain'], acceptWrappedTypes: ['text/html'], setup: 'actpass',
    direction: 'sendonly', chatroom: ['nickname', 'private-messages'], fileSelector: { name: 'f.bin', size: 3 }, fileTransferId: 'T1', maxSize: 1000,
  }, { sessionId: '42', version: 1, user: 'alice' });
  const lines = sdp.trimEnd().split('\r\n');
  assert.deepEqual(lines, [
    'v=0', 'o=alice 42 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', 'm=message 9 TCP/TLS/MSRP *',
    'a=accept-types:message/cpim text/plain', 'a=accept-wrapped-types:text/html',
    'a=path:msrp://127.0.0.1:2855/abc;tcp msrp://x.invalid:2855/def;ws', 'a=setup:actpass', 'a=sendonly', 'a=max-size:1000',
    'a=chatroom:nickname private-messages', 'a=file-selector:name:"f.bin" size:3', 'a=file-transfer-id:T1',
  ]);
  const back = msrpMedia(sdp)[0];
  assert.equal(back.setup, 'actpass');
  assert.deepEqual(back.chatroom, ['nickname', 'private-messages']);
  assert.equal(back.maxSize, 1000);
});

test('offer/answer through the SessionDescriptionHandler sets both MSRP paths (RFC 4976 §5.1)', async () => {
  const relay = new FakeRelay();
  const ca = relay.connect('a');
  const cb = relay.connect('b');
  ca.newLocalUri = () => 'msrp://aaaa.invalid:2855/sessA;ws';
  cb.newLocalUri = () => 'msrp://bbbb.invalid:2855/sessB;ws';
  const local = { acceptTypes: ['message/cpim', 'text/plain'], acceptWrappedTypes: ['text/html'] };
  const alice = new MsrpCall({ connection: async () => ca, local, user: 'alice' });
  const bob = new MsrpCall({ connection: async () => cb, local, user: 'bob' });
  const sa = new MsrpSessionDescriptionHandler(alice);
  const sb = new MsrpSessionDescriptionHandler(bob);
  assert.ok(sa.hasDescription('application/sdp'));
  assert.ok(sa.hasDescription('multipart/related;type="application/sdp";boundary=x'));
  assert.ok(!sa.hasDescription('text/plain'));
  assert.equal(sa.sendDtmf('1'), false);

  const offer = await sa.getDescription();
  assert.equal(offer.contentType, 'application/sdp');
  const om = msrpMedia(offer.body)[0];
  assert.deepEqual(om.path, ['msrp://relay.example.com:2855/arelay;tcp', 'msrp://aaaa.invalid:2855/sessA;ws']);
  assert.equal(om.setup, 'actpass');

  await sb.setDescription(offer.body);
  const answer = await sb.getDescription();
  const am = msrpMedia(answer.body)[0];
  assert.deepEqual(am.path, ['msrp://relay.example.com:2855/brelay;tcp', 'msrp://bbbb.invalid:2855/sessB;ws']);
  assert.equal(am.setup, 'active');
  assert.equal(bob.active, true, 'the answerer of actpass connects first');
  await sa.setDescription(answer.body);
  assert.equal(alice.active, false);
  // To-Path = our Use-Path + the peer's path (RFC 4976 §5.1, RFC 7977 §8.3).
  assert.deepEqual(alice.msrp.toPath, ['msrp://relay.example.com:2855/arelay;tcp', 'msrp://relay.example.com:2855/brelay;tcp', 'msrp://bbbb.invalid:2855/sessB;ws']);
  assert.deepEqual(bob.msrp.toPath, ['msrp://relay.example.com:2855/brelay;tcp', 'msrp://relay.example.com:2855/arelay;tcp', 'msrp://aaaa.invalid:2855/sessA;ws']);

  // An in-dialog re-offer gets the same answer back (RFC 4975 §8.4).
  await sb.setDescription(offer.body);
  assert.equal((await sb.getDescription()).body, answer.body);

  // The active side's bodiless SEND reaches the other side and is answered.
  await bob.msrp.sendBodiless();

  // Refusal: an answer with port 0 marks the stream refused.
  const carol = new MsrpCall({ connection: async () => ca, local, user: 'c' });
  const sc = new MsrpSessionDescriptionHandler(carol);
  await sc.getDescription();
  await sc.setDescription(answer.body.replace('m=message 9 ', 'm=message 0 '));
  assert.equal(carol.refused, true);
  sa.close();
  sb.close();
  sc.close();
  assert.ok(alice.msrp.closed && bob.msrp.closed);
});
