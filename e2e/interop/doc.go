// Package interop runs simplegw against SIP software from outside the
// project, on 127.0.0.1 only.
//
// Its tests are built only with the "interop" build tag, because they need
// Debian's kamailio and sip-tester (SIPp) installed; `make test-interop`
// (part of `make test`) installs them when missing and running as root, and
// fails naming the packages otherwise. The tests never skip.
//
// kamailio_test.go: the gateway with -upstream pointing at a real Kamailio
// registrar (testdata/kamailio.cfg). A browser-like SIP-over-WebSocket client
// (RFC 7118) registers through the gateway, which adds a Path with its flow
// token (RFC 3327); Kamailio challenges (RFC 3261 §22), stores the Path and
// later routes a MESSAGE (RFC 3428) from SIPp (testdata/sipp/) through it
// back to the WebSocket client; the client's 200 goes back to SIPp. Once the
// client has left, the gateway answers 430 Flow Failed (RFC 5626 §5.3) to
// what Kamailio still routes to it.
package interop
