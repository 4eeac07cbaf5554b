// CPIM (RFC 3862), IMDN (RFC 5438), is-composing (RFC 3994), PIDF (RFC 3863)
// and conference-info (RFC 4575): RFC examples parsed, and round trips.

import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { parseCpim, buildCpim, buildCpimHead, escapeHeaderValue, unescapeHeaderValue, CPIM_HEADERS_NS, IMDN_NS } from '../cpim.js';
import { buildImdn, parseImdn, imdnRequest, buildImdnMessage, isImdn, IMDN_TYPE } from '../imdn.js';
import { buildIsComposing, parseIsComposing, ComposingSender, ComposingReceiver } from '../iscomposing.js';
import { buildPidf, parsePidf } from '../pidf.js';
import { parseConferenceInfo, Roster } from '../conference.js';
import { parseXml, XmlError } from '../xml.js';
import { wire } from './helpers.js';

test('RFC 3862 §5.1 example: headers, namespaces, language parameter, content', () => {
  const m = parseCpim(wire([
    'From: MR SANDERS <im:piglet@100akerwood.com>',
    'To: Depressed Donkey <im:eeyore@100akerwood.com>',
    'DateTime: 2000-12-13T13:40:00-08:00',
    'Subject: the weather will be fine today',
    "Subject:;lang=fr beau temps prevu pour aujourd'hui",
    'NS: MyFeatures <mid:MessageFeatures@id.foo.com>',
    'Require: MyFeatures.VitalMessageOption',
    'MyFeatures.VitalMessageOption: Confirmation-requested',
    'MyFeatures.WackyMessageOption: Use-silly-font',
    '',
    'Content-type: text/xml; charset=utf-8',
    'Content-ID: <1234567890@foo.com>',
    '',
    '<body>',
    'Here is the text of my message.',
    '</body>',
  ]));
  assert.deepEqual(m.from, { uri: 'im:piglet@100akerwood.com', name: 'MR SANDERS' });
  assert.deepEqual(m.to, [{ uri: 'im:eeyore@100akerwood.com', name: 'Depressed Donkey' }]);
  assert.equal(m.dateTime, '2000-12-13T13:40:00-08:00');
  assert.deepEqual(m.getAll(CPIM_HEADERS_NS, 'Subject'), ['the weather will be fine today', "beau temps prevu pour aujourd'hui"]);
  assert.equal(m.headers[4].params, ';lang=fr');
  assert.equal(m.get('mid:MessageFeatures@id.foo.com', 'WackyMessageOption'), 'Use-silly-font');
  assert.equal(m.contentType, 'text/xml; charset=utf-8');
  assert.equal(m.contentHeader('content-id'), '<1234567890@foo.com>');
  assert.equal(m.text, '<body>\r\nHere is the text of my message.\r\n</body>\r\n');
});

test('namespace prefixes are local to a message (RFC 3862 §3.4)', () => {
  const a = parseCpim(wire(['NS: acme <http://id.acme.widgets/wily-headers/>', 'acme.runner-trap: set', '', 'Content-Type: text/plain', '', 'x']));
  const b = parseCpim(wire(['NS: widget <http://id.acme.widgets/wily-headers/>', 'widget.runner-trap: set', '', 'Content-Type: text/plain', '', 'x']));
  const c = parseCpim(wire(['NS: <http://id.acme.widgets/wily-headers/>', 'runner-trap: set', '', 'Content-Type: text/plain', '', 'x']));
  for (const m of [a, b, c]) assert.equal(m.get('http://id.acme.widgets/wily-headers/', 'runner-trap'), 'set');
});

test('header escapes of RFC 3862 §2.3', () => {
  const table = [
    ['a\\b', 'a\\\\b'],
    ['line1\nline2\r\tx', 'line1\\nline2\\r\\tx'],
    ['bell\u0007', 'bell\\u0007'],
    ['del\u007f', 'del\\u007f'],
    ['plain “unicode” ok', 'plain “unicode” ok'],
  ];
  for (const [raw, escaped] of table) {
    assert.equal(escapeHeaderValue(raw), escaped);
    assert.equal(unescapeHeaderValue(escaped), raw);
  }
  assert.equal(unescapeHeaderValue('\\q\\"'), 'q"');
  assert.equal(unescapeHeaderValue('end\\'), 'end');
  assert.equal(unescapeHeaderValue('\\u004'), 'u004');
});

test('CPIM round trip with IMDN headers, display names and binary content', () => {
  const body = new Uint8Array([0, 1, 2, 13, 10, 13, 10, 255]);
  const bytes = buildCpim({
    from: { uri: 'sip:alice@example.com', name: 'Alice "A" Smith' },
    to: [{ uri: 'sip:bob@example.com' }, { uri: 'sip:carol@example.com', name: 'Carol' }],
    dateTime: new Date(Date.UTC(2024, 0, 2, 3, 4, 5)),
    subject: 'tab\there',
    ns: { imdn: IMDN_NS },
    headers: [['imdn.Message-ID', 'm123456789'], ['imdn.Disposition-Notification', 'positive-delivery, display']],
    contentType: 'application/octet-stream',
    contentHeaders: [['Content-Disposition', 'attachment; filename="x.bin"']],
    body,
  });
  const m = parseCpim(bytes);
  assert.deepEqual(m.from, { uri: 'sip:alice@example.com', name: 'Alice "A" Smith' });
  assert.deepEqual(m.to, [{ uri: 'sip:bob@example.com' }, { uri: 'sip:carol@example.com', name: 'Carol' }]);
  assert.equal(m.dateTime, '2024-01-02T03:04:05Z');
  assert.equal(m.get(CPIM_HEADERS_NS, 'Subject'), 'tab\there');
  assert.equal(m.get(IMDN_NS, 'Message-ID'), 'm123456789');
  assert.equal(m.contentHeader('Content-Disposition'), 'attachment; filename="x.bin"');
  assert.deepEqual([...m.body], [...body]);
  // The head alone says where the content starts (files are wrapped lazily).
  const head = buildCpimHead({ from: { uri: 'sip:a@b' }, contentType: 'image/png' });
  assert.equal(parseCpim(head).bodyOffset, head.length);
});

test('malformed CPIM is refused', () => {
  assert.throws(() => parseCpim('From: <sip:a@b>\r\n'), /blank line/);
  assert.throws(() => parseCpim('From: <sip:a@b>\r\n\r\nX-Y: z\r\n\r\nbody'), /Content-Type/);
  assert.throws(() => parseCpim('Bad Header Line\r\n\r\nContent-Type: text/plain\r\n\r\n'), /malformed/);
  assert.throws(() => parseCpim('NS: nothing-here\r\n\r\nContent-Type: text/plain\r\n\r\n'), /NS/);
});

test('RFC 5438 §7.1.1.3 request and §7.2.1.1 / §7.2.1.2 notifications', () => {
  // The RFC's IM example has no blank line before its content headers; it is
  // read anyway.
  const im = parseCpim(wire([
    'From: Alice <im:alice@example.com>',
    'To: Bob <im:bob@example.com>',
    'NS: imdn <urn:ietf:params:imdn>',
    'imdn.Message-ID: 34jk324j',
    'DateTime: 2006-04-04T12:16:49-05:00',
    'imdn.Disposition-Notification: positive-delivery, negative-delivery',
    'Content-type: text/plain',
    'Content-length: 12',
    '',
    'Hello World',
  ]));
  assert.deepEqual(imdnRequest(im), { messageId: '34jk324j', datetime: '2006-04-04T12:16:49-05:00', dispositions: ['positive-delivery', 'negative-delivery'] });
  const delivery = `<?xml version="1.0" encoding="UTF-8"?>
<imdn xmlns="urn:ietf:params:xml:ns:imdn">
      <message-id>34jk324j</message-id>
      <datetime>2008-04-04T12:16:49-05:00</datetime>
     <recipient-uri>im:bob@example.com</recipient-uri>
      <original-recipient-uri
        >im:bob@example.com</original-recipient-uri>
      <delivery-notification>
         <status>
            <delivered/>
         </status>
      </delivery-notification>
    </imdn>`;
  assert.deepEqual(parseImdn(delivery), {
    messageId: '34jk324j', datetime: '2008-04-04T12:16:49-05:00', kind: 'delivery', status: 'delivered',
    recipientUri: 'im:bob@example.com', originalRecipientUri: 'im:bob@example.com',
  });
  const display = delivery.replace(/delivery-notification/g, 'display-notification').replace('<delivered/>', '<displayed/>');
  assert.equal(parseImdn(display).kind, 'display');
  assert.equal(parseImdn(display).status, 'displayed');
  for (const n of [
    { messageId: 'abc', datetime: '2024-01-01T00:00:00Z', kind: 'delivery', status: 'failed' },
    { messageId: 'a<b&c', datetime: 'x', kind: 'display', status: 'displayed', recipientUri: 'sip:b@x' },
  ]) assert.deepEqual(parseImdn(buildImdn(n)), n);
  const msg = buildImdnMessage({ from: { uri: 'sip:bob@x' }, to: { uri: 'sip:alice@x' }, messageId: 'n1234567', notification: { messageId: '34jk324j', datetime: 'd', kind: 'delivery', status: 'delivered' } });
  const wrapped = parseCpim(msg.body);
  assert.ok(isImdn(wrapped));
  assert.equal(wrapped.contentType, IMDN_TYPE);
  assert.equal(wrapped.contentHeader('Content-Disposition'), 'notification');
  assert.equal(wrapped.get(IMDN_NS, 'Message-ID'), 'n1234567');
  assert.equal(imdnRequest(wrapped), null, 'no IMDN for an IMDN (RFC 5438 §7.2.1)');
  assert.throws(() => parseImdn('<imdn xmlns="urn:ietf:params:xml:ns:imdn"><datetime>x</datetime></imdn>'), /message-id/);
});

test('RFC 3994 §5 examples and round trip', () => {
  const active = parseIsComposing(`<?xml version="1.0" encoding="UTF-8"?>
   <isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing"
   xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
   xsi:schemaLocation="urn:ietf:params:xml:ns:im-composing
   iscomposing.xsd">
     <state>active</state>
     <contenttype>text/plain</contenttype>
     <refresh>90</refresh>
   </isComposing>`);
  assert.deepEqual(active, { state: 'active', contentType: 'text/plain', refresh: 90 });
  const idle = parseIsComposing(`<?xml version="1.0" encoding="UTF-8"?>
   <isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing">
     <state>idle</state>
     <lastactive>2003-01-27T10:43:00Z</lastactive>
     <contenttype>audio</contenttype>
   </isComposing>`);
  assert.deepEqual(idle, { state: 'idle', lastActive: '2003-01-27T10:43:00Z', contentType: 'audio' });
  // RFC 3994 §3.5: unknown states count as idle.
  assert.equal(parseIsComposing('<isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing"><state>thinking</state></isComposing>').state, 'idle');
  for (const s of [{ state: 'active', contentType: 'text/plain', refresh: 60 }, { state: 'idle', lastActive: '2024-01-01T00:00:00Z' }]) {
    assert.deepEqual(parseIsComposing(buildIsComposing(s)), s);
  }
});

test('composer and receiver timers of RFC 3994 §3.2 and §3.3', () => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  try {
    const sent = [];
    const c = new ComposingSender((s) => sent.push(s.state));
    c.typing();
    c.typing();
    assert.deepEqual(sent, ['active'], 'one status message while typing');
    mock.timers.tick(14000);
    c.typing();
    mock.timers.tick(14000);
    assert.deepEqual(sent, ['active'], 'idle timer restarts on every edit');
    mock.timers.tick(1000);
    assert.deepEqual(sent, ['active', 'idle'], 'idle after 15 s without edits');
    c.typing();
    mock.timers.tick(10000);
    for (let i = 0; i < 6; i++) { c.typing(); mock.timers.tick(10000); }
    assert.deepEqual(sent, ['active', 'idle', 'active', 'active'], 'refresh after 60 s of typing');
    c.sent();
    mock.timers.tick(60000);
    assert.deepEqual(sent, ['active', 'idle', 'active', 'active'], 'no idle message after a content message');

    const seen = [];
    const r = new ComposingReceiver((s) => seen.push(s));
    r.status({ state: 'active', refresh: 90 });
    r.status({ state: 'active', refresh: 90 });
    mock.timers.tick(89000);
    assert.deepEqual(seen, ['active']);
    mock.timers.tick(1000);
    assert.deepEqual(seen, ['active', 'idle'], 'refresh interval ran out');
    r.status({ state: 'active' });
    mock.timers.tick(119000);
    r.message();
    assert.deepEqual(seen, ['active', 'idle', 'active', 'idle'], 'a content message ends composing');
    r.status({ state: 'active' });
    mock.timers.tick(120000);
    assert.deepEqual(seen, ['active', 'idle', 'active', 'idle', 'active', 'idle'], '120 s default');
    c.stop();
    r.stop();
  } finally {
    mock.timers.reset();
  }
});

test('RFC 3863 PIDF examples, prefixed and default namespace', () => {
  const prefixed = parsePidf(`<?xml version="1.0" encoding="UTF-8"?>
   <impp:presence xmlns:impp="urn:ietf:params:xml:ns:pidf"
       entity="pres:someone@example.com">
     <impp:tuple id="sg89ae">
       <impp:status>
         <impp:basic>open</impp:basic>
       </impp:status>
       <impp:contact priority="0.8">tel:+09012345678</impp:contact>
     </impp:tuple>
   </impp:presence>`);
  assert.deepEqual(prefixed, { entity: 'pres:someone@example.com', status: 'open', tuples: [{ id: 'sg89ae', status: 'open', contact: 'tel:+09012345678' }] });
  const extended = parsePidf(`<?xml version="1.0" encoding="UTF-8"?>
   <presence xmlns="urn:ietf:params:xml:ns:pidf"
       xmlns:local="urn:example-com:pidf-status-type"
       entity="pres:someone@example.com">
     <tuple id="ub93s3">
       <status>
         <basic>closed</basic>
         <local:location>home</local:location>
       </status>
       <contact>im:someone@example.com</contact>
     </tuple>
   </presence>`);
  assert.equal(extended.status, 'closed');
  const built = parsePidf(buildPidf({ entity: 'sip:alice@example.com', status: 'open', note: 'At lunch & back <soon>', contact: 'sip:alice@example.com' }));
  assert.equal(built.status, 'open');
  assert.equal(built.note, 'At lunch & back <soon>');
  assert.equal(built.entity, 'sip:alice@example.com');
  assert.throws(() => parsePidf('<presence xmlns="urn:other" entity="x"/>'), /not a PIDF/);
});

const rfc4575Basic = `<?xml version="1.0" encoding="UTF-8"?>
   <conference-info
    xmlns="urn:ietf:params:xml:ns:conference-info"
    entity="sips:conf233@example.com"
    state="full" version="1">
   <!--
     CONFERENCE INFO
   -->
    <conference-description>
     <subject>Agenda: This month's goals</subject>
      <service-uris>
       <entry>
        <uri>http://sharepoint/salesgroup/</uri>
        <purpose>web-page</purpose>
       </entry>
      </service-uris>
     </conference-description>
    <conference-state>
     <user-count>33</user-count>
    </conference-state>
    <users>
     <user entity="sip:bob@example.com" state="full">
      <display-text>Bob Hoskins</display-text>
      <endpoint entity="sip:bob@pc33.example.com">
       <display-text>Bob's Laptop</display-text>
       <status>disconnected</status>
       <disconnection-method>departed</disconnection-method>
      </endpoint>
     </user>
     <user entity="sip:alice@example.com" state="full">
      <display-text>Alice</display-text>
      <endpoint entity="sip:4kfk4j392jsu@example.com;grid=433kj4j3u">
       <status>connected</status>
       <joining-method>dialed-out</joining-method>
      </endpoint>
     </user>
    </users>
   </conference-info>`;

test('RFC 4575 §7.1 and RFC 7701 §9.6 conference-info, and roster updates (RFC 4575 §4.6)', () => {
  const info = parseConferenceInfo(rfc4575Basic);
  assert.equal(info.entity, 'sips:conf233@example.com');
  assert.equal(info.state, 'full');
  assert.equal(info.version, 1);
  assert.equal(info.subject, "Agenda: This month's goals");
  assert.deepEqual(info.users.map((u) => [u.entity, u.displayText, u.status]), [
    ['sip:bob@example.com', 'Bob Hoskins', 'disconnected'],
    ['sip:alice@example.com', 'Alice', 'connected'],
  ]);
  const nick = parseConferenceInfo(`<?xml version="1.0" encoding="UTF-8"?>
      <conference-info
       xmlns="urn:ietf:params:xml:ns:conference-info"
       xmlns:xcon="urn:ietf:params:xml:ns:xcon-conference-info"
       entity="sip:chatroom22@chat.example.com"
       state="full" version="1">
       <users>
         <user entity="sip:bob@example.com"
               state="full"
               xcon:nickname="Dopey Donkey">
            <display-text>Bob Hoskins</display-text>
         </user>
         <user entity="sip:alice@atlanta.example.com"
              state="full"
              xcon:nickname="Alice the great">
            <display-text>Alice Kay</display-text>
         </user>
       </users>
      </conference-info>`);
  assert.deepEqual(nick.users.map((u) => u.nickname), ['Dopey Donkey', 'Alice the great']);

  const r = new Roster();
  assert.equal(r.apply(info), true);
  assert.equal(r.list().length, 2);
  const partial = (version, users) => ({ entity: info.entity, state: 'partial', version, users });
  assert.equal(r.apply(partial(2, [{ entity: 'sip:carol@example.com', state: 'full', displayText: 'Carol' }])), true);
  assert.equal(r.apply(partial(3, [{ entity: 'sip:bob@example.com', state: 'deleted' }])), true);
  assert.deepEqual(r.list().map((u) => u.entity), ['sip:alice@example.com', 'sip:carol@example.com']);
  assert.equal(r.apply(partial(3, [{ entity: 'sip:dave@example.com', state: 'full' }])), false, 'repeated version');
  assert.equal(r.apply(partial(5, [{ entity: 'sip:dave@example.com', state: 'full' }])), false, 'version gap');
  assert.equal(r.apply(partial(4, [{ entity: 'sip:alice@example.com', state: 'partial', status: 'on-hold' }])), true);
  assert.equal(r.users.get('sip:alice@example.com').displayText, 'Alice', 'partial user keeps what it does not change');
  assert.equal(r.users.get('sip:alice@example.com').status, 'on-hold');
  assert.equal(r.apply({ ...info, version: 9 }), true, 'a newer full document replaces everything');
  assert.deepEqual(r.list().map((u) => u.entity), ['sip:bob@example.com', 'sip:alice@example.com']);
});

test('the XML reader refuses what it must', () => {
  for (const [src, re] of [
    ['<a><b></a>', /does not match/],
    ['<a x="1" x="2"/>', /repeated attribute/],
    ['<p:a/>', /undeclared namespace prefix/],
    ['<!DOCTYPE a [<!ENTITY x "y">]><a/>', /internal subset/],
    ['<a>&bogus;</a>', /bad reference/],
    ['<a>fish & chips</a>', /unescaped/],
    ['<a/><b/>', /after the root/],
    ['<a>', /unclosed/],
    ['', /no root/],
    ['<a x=1/>', /not quoted/],
  ]) assert.throws(() => parseXml(src), (e) => e instanceof XmlError && re.test(e.message), src);
  assert.equal(parseXml('<a>&#x1F600;&#65;&lt;</a>').text, '😀A<');
  let deep = '';
  for (let i = 0; i < 100; i++) deep += '<a>';
  assert.throws(() => parseXml(deep), /too deeply/);
});
