// The bundle that make bundle writes: one ES module, without WebRTC, exposing
// the public API, and working when loaded (SIP.js's default WebRTC factory is
// replaced by a stub that the UserAgent must still be able to construct).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as esbuild from 'esbuild';
import { options } from '../build.mjs';
import { importBundle, BrowserWebSocket } from './helpers.js';

test('the bundle is one ES module with the public API and no RTCPeerConnection', async () => {
  const r = await esbuild.build({ ...options, write: false, outfile: 'webclient.js', metafile: true, logLevel: 'silent' });
  assert.equal(r.errors.length, 0);
  assert.equal(r.outputFiles.length, 1);
  const code = r.outputFiles[0].text;
  assert.doesNotMatch(code, /RTCPeerConnection|getUserMedia/);
  const inputs = Object.keys(r.metafile.inputs);
  assert.ok(inputs.some((p) => p.includes('node_modules/sip.js/')), 'SIP.js is bundled in');
  assert.ok(!inputs.some((p) => p.includes('session-description-handler-factory-default')), 'the WebRTC handler factory is replaced');
});

test('the bundle loads, exports the API, and connect() fails cleanly when nothing listens', async () => {
  const lib = await importBundle();
  for (const n of ['createClient', 'Client', 'Chat', 'Room', 'FileTransfer', 'ClientError', 'Watch', 'newMessageId', 'version']) {
    assert.ok(n in lib, `exports ${n}`);
  }
  globalThis.WebSocket = BrowserWebSocket;
  const c = lib.createClient({ uri: 'sip:alice@localhost', password: 'x', sipUrl: 'ws://127.0.0.1:1/sip', msrpUrl: 'ws://127.0.0.1:1/msrp', WebSocket: BrowserWebSocket });
  await assert.rejects(c.connect(), (e) => e instanceof lib.ClientError && /cannot (reach|connect)/.test(e.message) && !/WebRTC/.test(e.message));
  assert.equal(c.state, 'disconnected');
  assert.match(lib.newMessageId(), /^[A-Za-z0-9]{20}$/);
  assert.throws(() => lib.createClient({ uri: 'not a uri at all' }), /not a SIP address-of-record|sipUrl/);
});
