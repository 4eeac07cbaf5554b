// Chat rooms (RFC 7701): CPIM To of regular and private messages, NICKNAME
// with Use-Nickname and its 425 answer, and private-message detection, with a
// scripted focus (an MSRP switch) on an in-memory relay.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Room } from '../chat.js';
import { MsrpCall } from '../call.js';
import { MsrpSession } from '../msrp/session.js';
import { MsrpSessionDescriptionHandler } from '../sip/sdh.js';
import { msrpMedia, buildMsrpSdp } from '../sdp.js';
import { parseCpim, buildCpim, CPIM_TYPE } from '../cpim.js';
import { responseTo } from '../msrp/codec.js';
import { FakeRelay, once } from './helpers.js';

const ROOM = 'sip:chatroom22@chat.example.com';

async function setup() {
  const relay = new FakeRelay();
  const ca = relay.connect('alice');
  const cf = relay.connect('focus');
  ca.newLocalUri = () => 'msrp://alice.invalid:2855/sA;ws';
  const events = [];
  const client = { uri: 'sip:alice@example.com', displayName: 'Alice', _emit: (t, d) => events.push([t, d]) };
  const room = new Room(client, ROOM);
  const call = new MsrpCall({ connection: async () => ca, local: room.localMedia(), user: 'alice' });
  const sdh = new MsrpSessionDescriptionHandler(call);
  const offer = msrpMedia((await sdh.getDescription()).body)[0];
  // RFC 7701 §5.2: message/cpim in accept-types, the payload types wrapped.
  assert.deepEqual(offer.acceptTypes, ['message/cpim']);
  assert.deepEqual(offer.chatroom, ['nickname', 'private-messages']);
  // The focus answers with its own path and capabilities.
  const focus = new MsrpSession({ connection: cf, localUri: 'msrp://focus.example.com:12763/kjhd37s2s20w2a;tcp', usePath: cf.usePath, remotePath: offer.path });
  const answer = buildMsrpSdp({ path: focus.sdpPath, acceptTypes: ['message/cpim'], acceptWrappedTypes: ['text/plain'], setup: 'passive', chatroom: ['nickname', 'private-messages'] }, { sessionId: '1', version: 1 });
  await sdh.setDescription(answer);
  room.call = call;
  call.msrp.addEventListener('message', (e) => room._onSessionMessage(e.detail));
  room.state = 'open';
  return { room, focus, events };
}

test('room messages are CPIM with To set to the room or to one participant (RFC 7701 §6.1, §6.2)', async () => {
  const { room, focus } = await setup();
  const got = [];
  focus.addEventListener('message', (e) => got.push(parseCpim(e.detail.bytes())));
  await room.send('hello room');
  await room.sendPrivate('sip:bob@example.com', 'psst');
  assert.equal(got.length, 2);
  assert.equal(got[0].from.uri, 'sip:alice@example.com');
  assert.deepEqual(got[0].to.map((a) => a.uri), [ROOM]);
  assert.equal(got[0].text, 'hello room');
  assert.deepEqual(got[1].to.map((a) => a.uri), ['sip:bob@example.com']);
  room.call.close();
  focus.close();
});

test('received room messages: sender from CPIM From, private when To is not the room, nickname from the roster', async () => {
  const { room, focus } = await setup();
  room._roster([{ entity: 'sip:bob@example.com', nickname: 'Dopey Donkey' }]);
  const seen = [];
  room.addEventListener('message', (e) => seen.push(e.detail));
  for (const to of [ROOM, 'sip:alice@example.com']) {
    const got = once(room, 'message');
    await focus.sendMessage(buildCpim({ from: { uri: 'sip:bob@example.com', name: 'Bob' }, to: { uri: to }, contentType: 'text/plain', body: `to ${to}` }), CPIM_TYPE).done;
    await got;
  }
  assert.deepEqual(seen.map((d) => [d.from, d.text, d.private, d.nickname, d.mode]), [
    ['sip:bob@example.com', `to ${ROOM}`, false, 'Dopey Donkey', 'session'],
    ['sip:bob@example.com', 'to sip:alice@example.com', true, 'Dopey Donkey', 'session'],
  ]);
  room.call.close();
  focus.close();
});

test('NICKNAME with Use-Nickname; 425 means taken (RFC 7701 §7.1)', async () => {
  const { room, focus } = await setup();
  const asked = [];
  focus.addEventListener('request', (e) => {
    const m = e.detail.message;
    asked.push([m.method, m.get('Use-Nickname'), m.get('Success-Report'), m.get('Failure-Report')]);
    const taken = m.get('Use-Nickname') === '"Alice the great"';
    e.detail.respond(taken ? 425 : 200, taken ? 'Nickname reserved or already in use' : 'OK');
  });
  await assert.rejects(room.setNickname('Alice the great'), (e) => e.code === 425 && /already in use/.test(e.message));
  assert.equal(room.nickname, undefined);
  await room.setNickname('Alice in "Wonderland"');
  assert.equal(room.nickname, 'Alice in "Wonderland"');
  assert.deepEqual(asked, [
    ['NICKNAME', '"Alice the great"', undefined, undefined],
    ['NICKNAME', '"Alice in \\"Wonderland\\""', undefined, undefined],
  ]);
  room.call.close();
  focus.close();
});
