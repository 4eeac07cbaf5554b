// MD5 (RFC 1321) and HTTP Digest for MSRP AUTH (RFC 2617, RFC 4976 §9.1).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { md5Hex } from '../msrp/md5.js';
import { parseChallenge, parseAuthParams, buildAuthorization, digestResponse } from '../msrp/digest.js';

test('MD5 test suite of RFC 1321 §A.5', () => {
  const suite = [
    ['', 'd41d8cd98f00b204e9800998ecf8427e'],
    ['a', '0cc175b9c0f1b6a831c399e269772661'],
    ['abc', '900150983cd24fb0d6963f7d28e17f72'],
    ['message digest', 'f96b697d7cb7938d525a2f31aaf161d0'],
    ['abcdefghijklmnopqrstuvwxyz', 'c3fcd3d76192e4007dfb496cca67e13b'],
    ['ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789', 'd174ab98d277d9f5a5611c2c9f419d9f'],
    ['12345678901234567890123456789012345678901234567890123456789012345678901234567890', '57edf4a22be3c955ac49da2e2107b67a'],
  ];
  for (const [input, want] of suite) assert.equal(md5Hex(input), want, JSON.stringify(input));
});

test('MD5 across block boundaries and of bytes', () => {
  // Lengths around the 56- and 64-byte padding boundaries; expected values
  // computed once with OpenSSL's MD5.
  const want = {
    55: 'ef1772b6dff9a122358552954ad0df65',
    56: '3b0c8ac703f828b04c6c197006d17218',
    57: '652b906d60af96844ebd21b674f35e93',
    63: 'b06521f39153d618550606be297466d5',
    64: '014842d480b571495a4a0363793f7367',
    65: 'c743a45e0d2e6a95cb859adae0248435',
  };
  for (const [n, hex] of Object.entries(want)) assert.equal(md5Hex('a'.repeat(Number(n))), hex, `${n} x "a"`);
  assert.equal(md5Hex(new Uint8Array([0xff, 0x00, 0x80])), '60cdccd4000580a3c394b8ad6ea9b899');
});

test('RFC 2617 §3.5 example: Mufasa / "Circle Of Life"', () => {
  const got = digestResponse({
    username: 'Mufasa', realm: 'testrealm@host.com', password: 'Circle Of Life',
    method: 'GET', uri: '/dir/index.html', nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093', nc: '00000001', cnonce: '0a4f113b',
  });
  assert.equal(got, '6629fae49393a05397450978507c4ef1');
});

test('parses the RFC 7977 §8.1.2 challenge and answers it as RFC 4976 §9.1 says', () => {
  const c = parseChallenge('Digest realm="example.com", nonce="UvtfpVL7XnnJ63EE244fXDthfLihlMHOY4+dd4A=", qop="auth"');
  assert.deepEqual(c, { realm: 'example.com', nonce: 'UvtfpVL7XnnJ63EE244fXDthfLihlMHOY4+dd4A=', qop: ['auth'], opaque: undefined, algorithm: undefined, stale: false });
  const h = buildAuthorization({ challenge: c, username: 'alice', password: 'secret', method: 'AUTH', uri: 'msrps://alice@a.example.com:443;ws', nc: 1, cnonce: 'zic5ml401prb' });
  const { scheme, params } = parseAuthParams(h);
  assert.equal(scheme, 'Digest');
  assert.equal(params.username, 'alice');
  assert.equal(params.realm, 'example.com');
  assert.equal(params.uri, 'msrps://alice@a.example.com:443;ws');
  assert.equal(params.qop, 'auth');
  assert.equal(params.nc, '00000001');
  assert.equal(params.cnonce, 'zic5ml401prb');
  // qop and nc unquoted, uri quoted (RFC 4976 §9.1).
  assert.match(h, /qop=auth(,|$)/);
  assert.match(h, /nc=00000001/);
  assert.match(h, /uri="msrps:\/\/alice@a\.example\.com:443;ws"/);
  // The response is HA1/HA2 per RFC 2617 §3.2.2.1, computed here step by step.
  const ha1 = md5Hex('alice:example.com:secret');
  const ha2 = md5Hex('AUTH:msrps://alice@a.example.com:443;ws');
  assert.equal(params.response, md5Hex(`${ha1}:UvtfpVL7XnnJ63EE244fXDthfLihlMHOY4+dd4A=:00000001:zic5ml401prb:auth:${ha2}`));
});

test('challenge parameters: opaque, stale, algorithm, escapes', () => {
  const c = parseChallenge('Digest realm="a \\"b\\"", nonce="n", qop="auth,auth-int", opaque="xyz", stale=TRUE, algorithm=MD5');
  assert.equal(c.realm, 'a "b"');
  assert.deepEqual(c.qop, ['auth', 'auth-int']);
  assert.equal(c.opaque, 'xyz');
  assert.equal(c.stale, true);
  const h = buildAuthorization({ challenge: c, username: 'u', password: 'p', method: 'AUTH', uri: 'msrp://r:1;ws', nc: 2 });
  assert.match(h, /opaque="xyz"/);
  assert.match(h, /algorithm=MD5/);
  assert.match(h, /realm="a \\"b\\""/);
  assert.match(h, /nc=00000002/);
});

test('unusable challenges are refused', () => {
  assert.throws(() => parseChallenge('Basic realm="x"'), /only Digest/);
  assert.throws(() => parseChallenge('Digest realm="x", nonce="n", qop="auth-int"'), /qop=auth/);
  assert.throws(() => parseChallenge('Digest realm="x", nonce="n"'), /qop=auth/);
  assert.throws(() => parseChallenge('Digest realm="x", nonce="n", qop="auth", algorithm=SHA-256'), /MD5 only/);
  assert.throws(() => parseChallenge('Digest realm="x", qop="auth"'), /nonce/);
  assert.throws(() => parseAuthParams('Digest realm="unterminated'), /unterminated/);
});
