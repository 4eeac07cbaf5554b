// MSRP wire codec: RFC 4975 §9 syntax with the examples of RFC 4975 §4, §11
// and RFC 7977 §8 (continuation lines joined, as the RFCs say they are).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMessage, serializeMessage, MsrpMessage, MsrpParseError, parseByteRange, formatByteRange, parseStatus, responseTo } from '../msrp/codec.js';
import { parseUri, formatUri, uriEqual } from '../msrp/uri.js';
import { wire } from './helpers.js';

const decoder = new TextDecoder();

const examples = [
  {
    name: 'RFC 4975 §4 Figure 2 SEND',
    wire: wire([
      'MSRP a786hjs2 SEND',
      'To-Path: msrp://biloxi.example.com:12763/kjhd37s2s20w2a;tcp',
      'From-Path: msrp://atlanta.example.com:7654/jshA7weztas;tcp',
      'Message-ID: 87652491',
      'Byte-Range: 1-25/25',
      'Content-Type: text/plain',
      '',
      'Hey Bob, are you there?',
      '-------a786hjs2$',
    ]),
    want: {
      transactionId: 'a786hjs2', method: 'SEND', flag: '$',
      toPath: ['msrp://biloxi.example.com:12763/kjhd37s2s20w2a;tcp'],
      fromPath: ['msrp://atlanta.example.com:7654/jshA7weztas;tcp'],
      messageId: '87652491', byteRange: { start: 1, end: 25, total: 25 },
      contentType: 'text/plain', body: 'Hey Bob, are you there?',
      successReport: 'no', failureReport: 'yes',
    },
  },
  {
    name: 'RFC 4975 §4 Figure 2 200 OK',
    wire: wire([
      'MSRP a786hjs2 200 OK',
      'To-Path: msrp://atlanta.example.com:7654/jshA7weztas;tcp',
      'From-Path: msrp://biloxi.example.com:12763/kjhd37s2s20w2a;tcp',
      '-------a786hjs2$',
    ]),
    want: { transactionId: 'a786hjs2', status: 200, comment: 'OK', body: null },
  },
  {
    name: 'RFC 4975 §11.4 first chunk of a CPIM message ("+")',
    wire: wire([
      'MSRP d93kswow SEND',
      'To-Path: msrp://bobpc.example.com:8888/9di4eae923wzd;tcp',
      'From-Path: msrp://alicepc.example.com:7654/iau39soe2843z;tcp',
      'Message-ID: 12339sdqwer',
      'Byte-Range: 1-137/148',
      'Content-Type: message/cpim',
      '',
      'To: Bob <sip:bob@example.com>',
      'From: Alice <sip:alice@example.com>',
      'DateTime: 2006-05-15T15:02:31-03:00',
      '',
      'Content-Type: text/plain',
      '',
      'ABCD',
      '-------d93kswow+',
    ]),
    want: {
      method: 'SEND', flag: '+', byteRange: { start: 1, end: 137, total: 148 }, contentType: 'message/cpim',
      body: 'To: Bob <sip:bob@example.com>\r\nFrom: Alice <sip:alice@example.com>\r\nDateTime: 2006-05-15T15:02:31-03:00\r\n\r\nContent-Type: text/plain\r\n\r\nABCD',
    },
  },
  {
    name: 'RFC 4975 §11.5 system message with reports off',
    wire: wire([
      'MSRP d93kswow SEND',
      'To-Path: msrp://alicepc.example.com:8888/9di4eae923wzd;tcp',
      'From-Path: msrp://example.com:7777/iau39soe2843z;tcp',
      'Message-ID: 12339sdqwer',
      'Byte-Range: 1-38/38',
      'Failure-Report: no',
      'Success-Report: no',
      'Content-Type: text/plain',
      '',
      'This conference will end in 5 minutes',
      '-------d93kswow$',
    ]),
    want: { failureReport: 'no', successReport: 'no', body: 'This conference will end in 5 minutes' },
  },
  {
    name: 'RFC 4975 §11.6 success REPORT',
    wire: wire([
      'MSRP dkei38sd REPORT',
      'To-Path: msrp://alicepc.example.com:7777/iau39soe2843z;tcp',
      'From-Path: msrp://bob.example.com:8888/9di4eae923wzd;tcp',
      'Message-ID: 12339sdqwer',
      'Byte-Range: 1-106/106',
      'Status: 000 200 OK',
      '-------dkei38sd$',
    ]),
    want: { method: 'REPORT', statusHeader: { namespace: '000', code: 200, comment: 'OK' }, body: null },
  },
  {
    name: 'RFC 7977 §8.1.2 F3 AUTH without credentials',
    wire: wire([
      'MSRP 4rsxt9nz AUTH',
      'To-Path: msrps://alice@a.example.com:443;ws',
      'From-Path: msrps://df7jal23ls0d.invalid:2855/98cjs;ws',
      '-------4rsxt9nz$',
    ]),
    want: { method: 'AUTH', toPath: ['msrps://alice@a.example.com:443;ws'], body: null },
  },
  {
    name: 'RFC 7977 §8.1.2 F4 401 with challenge',
    wire: wire([
      'MSRP 4rsxt9nz 401 Unauthorized',
      'To-Path: msrps://df7jal23ls0d.invalid:2855/98cjs;ws',
      'From-Path: msrps://alice@a.example.com:443;ws',
      'WWW-Authenticate: Digest realm="example.com", nonce="UvtfpVL7XnnJ63EE244fXDthfLihlMHOY4+dd4A=", qop="auth"',
      '-------4rsxt9nz$',
    ]),
    want: { status: 401, comment: 'Unauthorized', header: ['WWW-Authenticate', 'Digest realm="example.com", nonce="UvtfpVL7XnnJ63EE244fXDthfLihlMHOY4+dd4A=", qop="auth"'] },
  },
  {
    name: 'RFC 7977 §8.1.2 F6 200 with Use-Path and Expires',
    wire: wire([
      'MSRP qy1hsow5 200 OK',
      'To-Path: msrps://df7jal23ls0d.invalid:2855/98cjs;ws',
      'From-Path: msrps://alice@a.example.com:443;ws',
      'Use-Path: msrps://a.example.com:2855/jui787s2f;tcp',
      'Expires: 900',
      '-------qy1hsow5$',
    ]),
    want: { status: 200, header: ['Use-Path', 'msrps://a.example.com:2855/jui787s2f;tcp'] },
  },
  {
    name: 'RFC 7977 §8.3.2 F1 SEND naming the relay twice',
    wire: wire([
      'MSRP kjh6 SEND',
      'To-Path: msrps://a.example.com:2855/jui787s2f;tcp msrps://a.example.com:2855/iwnslt;tcp msrps://jk9awp14vj8x.invalid:2855/76qwe;ws',
      'From-Path: msrps://df7jal23ls0d.invalid:2855/98cjs;ws',
      'Success-Report: no',
      'Byte-Range: 1-*/*',
      'Message-ID: 87652',
      'Content-Type: text/plain',
      '',
      'Carol, I sent that file to Bob.',
      '-------kjh6$',
    ]),
    want: {
      toPath: ['msrps://a.example.com:2855/jui787s2f;tcp', 'msrps://a.example.com:2855/iwnslt;tcp', 'msrps://jk9awp14vj8x.invalid:2855/76qwe;ws'],
      byteRange: { start: 1, end: null, total: null }, messageId: '87652', body: 'Carol, I sent that file to Bob.',
    },
  },
  {
    name: 'RFC 7701 §9.2 NICKNAME (other method)',
    wire: wire([
      'MSRP d93kswow NICKNAME',
      'To-Path: msrp://chat.example.com:12763/kjhd37s2s20w2a;tcp',
      'From-Path: msrp://client.atlanta.example.com:7654/jshA7weztas;tcp',
      'Use-Nickname: "Alice the great"',
      '-------d93kswow$',
    ]),
    want: { method: 'NICKNAME', header: ['Use-Nickname', '"Alice the great"'] },
  },
];

for (const ex of examples) {
  test(`parse ${ex.name}`, () => {
    const m = parseMessage(new TextEncoder().encode(ex.wire));
    const w = ex.want;
    for (const k of ['transactionId', 'method', 'status', 'comment', 'flag', 'toPath', 'fromPath', 'messageId', 'byteRange', 'contentType', 'successReport', 'failureReport', 'statusHeader']) {
      if (k in w) assert.deepEqual(m[k], w[k], k);
    }
    if ('body' in w) assert.equal(m.body === null ? null : decoder.decode(m.body), w.body);
    if (w.header) assert.equal(m.get(w.header[0]), w.header[1]);
    // Text frames carry the same bytes (RFC 7977 §4.2).
    assert.deepEqual(parseMessage(ex.wire).toPath, m.toPath);
    // Serialising gives the example back byte for byte.
    assert.equal(decoder.decode(serializeMessage(m)), ex.wire);
  });
}

test('binary body with CRLF and NUL bytes survives a round trip', () => {
  const body = new Uint8Array([0, 13, 10, 45, 45, 255, 13, 10, 13, 10, 0]);
  const m = new MsrpMessage({ method: 'SEND', toPath: ['msrp://a.invalid:2855/x;ws'], fromPath: ['msrp://b.invalid:2855/y;ws'], headers: [['Message-ID', 'abcd1234']], contentType: 'application/octet-stream', body });
  const back = parseMessage(serializeMessage(m));
  assert.deepEqual([...back.body], [...body]);
  assert.equal(back.contentType, 'application/octet-stream');
});

test('a body containing its end-line gets a new transaction id (RFC 4975 §7.1)', () => {
  const tid = 'abcd1234';
  const body = new TextEncoder().encode(`before\r\n-------${tid}$\r\nafter`);
  const m = new MsrpMessage({ transactionId: tid, method: 'SEND', toPath: ['msrp://a.invalid:2855/x;ws'], fromPath: ['msrp://b.invalid:2855/y;ws'], contentType: 'text/plain', body });
  const bytes = serializeMessage(m);
  assert.notEqual(m.transactionId, tid);
  const back = parseMessage(bytes);
  assert.equal(back.transactionId, m.transactionId);
  assert.equal(decoder.decode(back.body), decoder.decode(body));
});

test('empty body differs from no body (RFC 4975 §7.1)', () => {
  const empty = parseMessage(wire(['MSRP abcd1234 SEND', 'To-Path: msrp://a.invalid:2855/x;ws', 'From-Path: msrp://b.invalid:2855/y;ws', 'Message-ID: m1234', 'Byte-Range: 1-0/0', 'Content-Type: text/plain', '', '', '-------abcd1234$']));
  assert.equal(empty.body.length, 0);
  const none = parseMessage(wire(['MSRP abcd1234 SEND', 'To-Path: msrp://a.invalid:2855/x;ws', 'From-Path: msrp://b.invalid:2855/y;ws', 'Message-ID: m1234', '-------abcd1234$']));
  assert.equal(none.body, null);
  assert.equal(decoder.decode(serializeMessage(empty)).includes('Content-Type: text/plain\r\n\r\n\r\n-------'), true);
});

const bad = [
  ['no CRLF at all', 'MSRP abcd1234 SEND'],
  ['lower-case protocol name', wire(['msrp abcd1234 SEND', 'To-Path: msrp://a:1/x;tcp', 'From-Path: msrp://b:1/y;tcp', '-------abcd1234$'])],
  ['transaction id too short', wire(['MSRP abc SEND', 'To-Path: msrp://a:1/x;tcp', 'From-Path: msrp://b:1/y;tcp', '-------abc$'])],
  ['transaction id too long', wire([`MSRP ${'a'.repeat(33)} SEND`, 'To-Path: msrp://a:1/x;tcp', 'From-Path: msrp://b:1/y;tcp', `-------${'a'.repeat(33)}$`])],
  ['From-Path before To-Path', wire(['MSRP abcd1234 SEND', 'From-Path: msrp://b:1/y;tcp', 'To-Path: msrp://a:1/x;tcp', '-------abcd1234$'])],
  ['missing From-Path', wire(['MSRP abcd1234 SEND', 'To-Path: msrp://a:1/x;tcp', 'Message-ID: 1234', '-------abcd1234$'])],
  ['end-line of another transaction', wire(['MSRP abcd1234 SEND', 'To-Path: msrp://a:1/x;tcp', 'From-Path: msrp://b:1/y;tcp', '-------zzzz9999$'])],
  ['bad continuation flag', wire(['MSRP abcd1234 SEND', 'To-Path: msrp://a:1/x;tcp', 'From-Path: msrp://b:1/y;tcp', '-------abcd1234!'])],
  ['body without Content-Type', wire(['MSRP abcd1234 SEND', 'To-Path: msrp://a:1/x;tcp', 'From-Path: msrp://b:1/y;tcp', '', 'hello', '-------abcd1234$'])],
  ['response with a body', wire(['MSRP abcd1234 200 OK', 'To-Path: msrp://a:1/x;tcp', 'From-Path: msrp://b:1/y;tcp', 'Content-Type: text/plain', '', 'hello', '-------abcd1234$'])],
  ['response ending with "+"', wire(['MSRP abcd1234 200 OK', 'To-Path: msrp://a:1/x;tcp', 'From-Path: msrp://b:1/y;tcp', '-------abcd1234+'])],
  ['malformed Byte-Range', wire(['MSRP abcd1234 SEND', 'To-Path: msrp://a:1/x;tcp', 'From-Path: msrp://b:1/y;tcp', 'Byte-Range: 1-x/3', '-------abcd1234$'])],
  ['header without colon', wire(['MSRP abcd1234 SEND', 'To-Path: msrp://a:1/x;tcp', 'From-Path: msrp://b:1/y;tcp', 'Nonsense', '-------abcd1234$'])],
  ['REPORT body over 10240 bytes', wire(['MSRP abcd1234 REPORT', 'To-Path: msrp://a:1/x;tcp', 'From-Path: msrp://b:1/y;tcp', 'Content-Type: text/plain', '', 'x'.repeat(10241), '-------abcd1234$'])],
  ['end-line not preceded by CRLF', 'MSRP abcd1234 SEND\r\nTo-Path: msrp://a:1/x;tcp\r\nFrom-Path: msrp://b:1/y;tcp-------abcd1234$\r\n'],
];

for (const [name, data] of bad) {
  test(`refuses ${name}`, () => {
    assert.throws(() => parseMessage(data), MsrpParseError);
  });
}

test('Byte-Range and Status values (RFC 4975 §9)', () => {
  assert.deepEqual(parseByteRange('1-*/*'), { start: 1, end: null, total: null });
  assert.deepEqual(parseByteRange('138-148/148'), { start: 138, end: 148, total: 148 });
  assert.equal(parseByteRange('0-1/2'), null);
  assert.equal(parseByteRange('-1/2'), null);
  assert.equal(formatByteRange({ start: 1, end: null, total: 10 }), '1-*/10');
  assert.deepEqual(parseStatus('000 413 Message too large'), { namespace: '000', code: 413, comment: 'Message too large' });
  assert.equal(parseStatus('000 2000'), null);
});

test('responses go to the previous hop for SEND and the full path otherwise (RFC 4975 §7.2)', () => {
  const send = new MsrpMessage({ method: 'SEND', toPath: ['msrp://me.invalid:2855/s;ws'], fromPath: ['msrp://r:1/a;tcp', 'msrp://peer:1/b;tcp'] });
  assert.deepEqual(responseTo(send, 200, 'OK', 'msrp://me.invalid:2855/s;ws').toPath, ['msrp://r:1/a;tcp']);
  const nick = new MsrpMessage({ method: 'NICKNAME', toPath: ['msrp://me.invalid:2855/s;ws'], fromPath: ['msrp://r:1/a;tcp', 'msrp://peer:1/b;tcp'] });
  assert.deepEqual(responseTo(nick, 501, 'x', 'msrp://me.invalid:2855/s;ws').toPath, ['msrp://r:1/a;tcp', 'msrp://peer:1/b;tcp']);
});

test('MSRP URIs parse and compare by RFC 4975 §6.1', () => {
  const u = parseUri('msrps://alice@a.example.com:443;ws');
  assert.deepEqual({ secure: u.secure, user: u.user, host: u.host, port: u.port, sessionId: u.sessionId, transport: u.transport },
    { secure: true, user: 'alice', host: 'a.example.com', port: 443, sessionId: '', transport: 'ws' });
  const v = parseUri('msrp://[2001:db8::1]:2855/abc=+/x;tcp;foo=bar');
  assert.equal(v.host, '2001:db8::1');
  assert.equal(v.sessionId, 'abc=+/x');
  assert.equal(v.params, ';foo=bar');
  assert.equal(formatUri(v), 'msrp://[2001:db8::1]:2855/abc=+/x;tcp;foo=bar');
  const table = [
    ['msrp://A.Example.com:2855/abc;TCP', 'msrp://a.example.com:2855/abc;tcp', true],
    ['msrp://alice@a.example.com:2855/abc;tcp', 'msrp://a.example.com:2855/abc;tcp', true],
    ['msrp://a.example.com:2855/abc;tcp', 'msrp://a.example.com:2855/ABC;tcp', false],
    ['msrp://a.example.com:2855/abc;tcp', 'msrp://a.example.com/abc;tcp', false],
    ['msrp://a.example.com:2855/abc;tcp', 'msrps://a.example.com:2855/abc;tcp', false],
    ['msrp://a.example.com:2855/abc;tcp', 'msrp://a.example.com:2855/abc;ws', false],
    ['msrp://a.example.com:2855;tcp', 'msrp://a.example.com:2855/abc;tcp', false],
    ['msrp://a%2Eexample.com:2855/x;tcp', 'msrp://a.example.com:2855/x;tcp', true],
  ];
  for (const [a, b, eq] of table) assert.equal(uriEqual(a, b), eq, `${a} vs ${b}`);
  for (const s of ['http://a:1/x;tcp', 'msrp://a:1/x', 'msrp://a:99999/x;tcp', 'msrp://:1/x;tcp', 'msrp://a:1/x y;tcp']) {
    assert.throws(() => parseUri(s), Error, s);
  }
});
