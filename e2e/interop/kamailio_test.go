//go:build interop

package interop

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/emiago/sipgo/sip"

	"github.com/simplegw/simplegw/bridge/auth"
	"github.com/simplegw/simplegw/gateway"
)

const (
	// domain is the gateway's -domain and Kamailio's alias: the AORs'
	// domain and the digest realm.
	domain = "example.test"
	// password is every user's password at Kamailio (AUTH_PASSWORD).
	password = "interop-pw"
)

// TestKamailio: simplegw with -upstream pointing at a real Kamailio (see the
// package doc). Each case uses its own gateway and user on one Kamailio.
func TestKamailio(t *testing.T) {
	kam := startKamailio(t, password, domain)
	cases := []struct {
		name     string
		upstream string // transport from the gateway to Kamailio
		sipp     string // SIPp transport to Kamailio: u1 (UDP) or t1 (TCP)
		user     string
	}{
		{"upstream-udp/sipp-udp", "udp", "u1", "alice"},
		{"upstream-tcp/sipp-udp", "tcp", "u1", "bob"},
		{"upstream-tcp/sipp-tcp", "tcp", "t1", "carol"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := startGateway(t, "sip:"+kam.Addr+";transport="+tc.upstream)
			ua := dialBrowser(t, g.Addrs().HTTP, tc.user)

			// REGISTER through the gateway: Kamailio's challenge comes back
			// unchanged, the answer is accepted, and the 200 shows the Path
			// the gateway added and Kamailio stored (RFC 3327 §5.3).
			path := ua.register(t)
			if path.HostPort() != g.Addrs().SIP {
				t.Errorf("Path %s does not name the gateway's SIP address %s", path.String(), g.Addrs().SIP)
			}
			tp, _ := path.UriParams.Get("transport")
			if want := map[string]string{"udp": "", "tcp": "tcp"}[tc.upstream]; tp != want {
				t.Errorf("Path %s: transport %q, want %q (the transport facing Kamailio)", path.String(), tp, want)
			}
			if !path.UriParams.Has("lr") || path.User == "" {
				t.Errorf("Path %s: want a loose-routing URI whose user part carries the flow token", path.String())
			}

			// A MESSAGE from SIPp to the AOR at Kamailio reaches the browser
			// over the gateway, routed by the stored Path.
			text := "hello " + tc.user + " from sipp over " + tc.sipp + " " + randHex(4)
			run := runSIPp(t, "message.xml", kam.Addr, tc.sipp, tc.user, map[string]string{
				"aor_domain": domain, "text": text,
			})
			req := ua.expectRequest(t, sip.MESSAGE)
			if got := strings.TrimRight(string(req.Body()), "\r\n"); got != text {
				t.Errorf("MESSAGE body %q, want %q", got, text)
			}
			if want := ua.contactURI(); req.Recipient.String() != want.String() {
				t.Errorf("Request-URI %s, want the registered contact %s", req.Recipient.String(), ua.contact)
			}
			if n := len(req.GetHeaders("Route")); n != 0 {
				t.Errorf("%d Route headers left at the browser; the gateway should have removed its own", n)
			}
			if from := req.From(); from == nil || from.Address.User != "sipp" {
				t.Errorf("From %v, want SIPp's", from)
			}
			vias := req.GetHeaders("Via")
			if len(vias) != 3 {
				t.Fatalf("%d Vias at the browser, want 3 (gateway, Kamailio, SIPp):\n%s", len(vias), req)
			}
			if v := vias[0].(*sip.ViaHeader); v.Transport != "WS" {
				t.Errorf("top Via %s: want the gateway's WS Via", v.Value())
			}
			if v := vias[1].(*sip.ViaHeader); v.SentBy() != kam.Addr {
				t.Errorf("second Via %s: want Kamailio's %s", v.Value(), kam.Addr)
			}
			if v := vias[2].(*sip.ViaHeader); v.Transport != map[string]string{"u1": "UDP", "t1": "TCP"}[tc.sipp] {
				t.Errorf("third Via %s: want SIPp's over %s", v.Value(), tc.sipp)
			}
			toTag := "ws" + randHex(4)
			ua.reply(t, req, 200, "OK", toTag)

			// SIPp got the browser's 200 (its scenario fails otherwise), with
			// the browser's To tag.
			res := awaitSIPp(t, run)
			var final *sip.Response
			for _, r := range receivedResponses(t, res.messages) {
				if r.StatusCode >= 200 {
					final = r
				}
			}
			if final == nil || final.StatusCode != 200 {
				t.Fatalf("SIPp logged no 200: %s", res)
			}
			if tag, _ := final.To().Params.Get("tag"); tag != toTag {
				t.Errorf("200 at SIPp has To tag %q, want the browser's %q", tag, toTag)
			}

			// The browser leaves without unregistering: Kamailio still routes
			// to the stored Path, and the gateway answers 430 Flow Failed at
			// once (RFC 5626 §5.3), which Kamailio relays to SIPp.
			ua.close()
			res = awaitSIPp(t, runSIPp(t, "message_flow_failed.xml", kam.Addr, tc.sipp, tc.user, map[string]string{
				"aor_domain": domain, "text": "anyone there?",
			}))
			final = nil
			for _, r := range receivedResponses(t, res.messages) {
				if r.StatusCode >= 200 {
					final = r
				}
			}
			if final == nil || final.StatusCode != 430 {
				t.Fatalf("SIPp logged no 430: %s", res)
			}
		})
	}
}

// startGateway runs the real gateway (gateway.New with the bridge
// services) on 127.0.0.1 with port 0 everywhere, in open demo mode, with
// upstream as its SIP core.
func startGateway(t *testing.T, upstream string) *gateway.Gateway {
	t.Helper()
	var w io.Writer = testWriter{t}
	level := slog.LevelInfo
	if os.Getenv("INTEROP_DEBUG") != "" {
		level = slog.LevelDebug
	}
	g, err := gateway.New(gateway.Config{
		HTTPAddr: "127.0.0.1:0",
		MSRPAddr: "127.0.0.1:0",
		SIPAddr:  "127.0.0.1:0",
		Domain:   domain,
		Upstream: upstream,
		Logger:   slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level})),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := g.Shutdown(ctx); err != nil {
			t.Errorf("gateway Shutdown: %v", err)
		}
	})
	return g
}

// testWriter sends the gateway's log to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// browser is a browser-like SIP user agent on a WebSocket (RFC 7118): it
// offers the "sip" subprotocol, sends hand-written SIP in text frames, has
// an ".invalid" Via host and Contact (§5.2), and parses what it receives
// with sipgo's parser.
type browser struct {
	user    string
	host    string // the .invalid host
	contact string // Contact URI
	c       *websocket.Conn
	msgs    chan sip.Message
	done    chan struct{} // closed when the read loop ended
	cancel  context.CancelFunc
}

func dialBrowser(t *testing.T, httpAddr, user string) *browser {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	dctx, dcancel := context.WithTimeout(ctx, waitFor)
	defer dcancel()
	c, res, err := websocket.Dial(dctx, "ws://"+httpAddr+"/sip", &websocket.DialOptions{Subprotocols: []string{"sip"}})
	if err != nil {
		cancel()
		t.Fatalf("WebSocket to /sip: %v", err)
	}
	if got := res.Header.Get("Sec-WebSocket-Protocol"); got != "sip" {
		cancel()
		t.Fatalf("101 with subprotocol %q, want sip (RFC 7118 §4.1)", got)
	}
	c.SetReadLimit(1 << 20)
	host := randHex(6) + ".invalid"
	b := &browser{
		user: user, host: host,
		contact: "sip:" + user + "-" + randHex(3) + "@" + host + ";transport=ws",
		c:       c,
		msgs:    make(chan sip.Message, 64),
		done:    make(chan struct{}),
		cancel:  cancel,
	}
	go func() {
		defer close(b.done)
		for {
			_, data, err := c.Read(ctx)
			if err != nil {
				return
			}
			if strings.Trim(string(data), "\r\n") == "" {
				continue // keepalive (RFC 5626 §4.4.1)
			}
			m, err := sip.ParseMessage(data)
			if err != nil {
				t.Errorf("%s received an unparseable message: %v\n%s", user, err, data)
				continue
			}
			b.msgs <- m
		}
	}()
	t.Cleanup(b.close)
	return b
}

func (b *browser) contactURI() sip.Uri {
	var u sip.Uri
	sip.ParseUri(b.contact, &u)
	return u
}

// close closes the WebSocket with a close handshake and waits for the read
// loop to end.
func (b *browser) close() {
	b.c.Close(websocket.StatusNormalClosure, "")
	b.cancel()
	<-b.done
}

func (b *browser) send(t *testing.T, msg string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := b.c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
		t.Fatalf("%s: send: %v", b.user, err)
	}
}

func (b *browser) next(t *testing.T) sip.Message {
	t.Helper()
	select {
	case m := <-b.msgs:
		return m
	case <-time.After(waitFor):
		t.Fatalf("%s: nothing received within %v", b.user, waitFor)
		return nil
	}
}

// response returns the next final response, skipping 100 Trying.
func (b *browser) response(t *testing.T) *sip.Response {
	t.Helper()
	for {
		m := b.next(t)
		r, ok := m.(*sip.Response)
		if !ok {
			t.Fatalf("%s: got a request, want a response:\n%s", b.user, m)
		}
		if r.StatusCode > 100 {
			return r
		}
	}
}

func (b *browser) expectRequest(t *testing.T, method sip.RequestMethod) *sip.Request {
	t.Helper()
	m := b.next(t)
	r, ok := m.(*sip.Request)
	if !ok || r.Method != method {
		t.Fatalf("%s: got\n%s\nwant a %s request", b.user, m, method)
	}
	return r
}

// register REGISTERs the browser's contact for its user at domain through
// the gateway: the first attempt must be challenged by Kamailio (401 with
// its realm and Server header: passed through unchanged), the second,
// answered with digest, must get 200 with the contact bound. It returns the
// Path URI of the 200.
func (b *browser) register(t *testing.T) sip.Uri {
	t.Helper()
	callID := randHex(10)
	fromTag := randHex(4)
	request := func(cseq int, extra ...string) string {
		var s strings.Builder
		fmt.Fprintf(&s, "REGISTER sip:%s SIP/2.0\r\n", domain)
		fmt.Fprintf(&s, "Via: SIP/2.0/WS %s;branch=z9hG4bK%s\r\n", b.host, randHex(8))
		s.WriteString("Max-Forwards: 70\r\n")
		fmt.Fprintf(&s, "From: <sip:%s@%s>;tag=%s\r\n", b.user, domain, fromTag)
		fmt.Fprintf(&s, "To: <sip:%s@%s>\r\n", b.user, domain)
		fmt.Fprintf(&s, "Call-ID: %s\r\nCSeq: %d REGISTER\r\n", callID, cseq)
		fmt.Fprintf(&s, "Contact: <%s>;expires=600\r\n", b.contact)
		s.WriteString("Supported: path\r\n")
		for _, h := range extra {
			s.WriteString(h + "\r\n")
		}
		s.WriteString("Content-Length: 0\r\n\r\n")
		return s.String()
	}
	b.send(t, request(1))
	res := b.response(t)
	if res.StatusCode != 401 {
		t.Fatalf("first REGISTER: %d %s, want Kamailio's 401\n%s", res.StatusCode, res.Reason, res)
	}
	if s := res.GetHeader("Server"); s == nil || s.Value() != "simplegw-interop-kamailio" {
		t.Errorf("401 Server header %v: the challenge did not come from Kamailio", s)
	}
	challenge := res.GetHeader("WWW-Authenticate")
	if challenge == nil || !strings.Contains(challenge.Value(), `realm="`+domain+`"`) {
		t.Fatalf("401 without a challenge in realm %s:\n%s", domain, res)
	}
	ans, err := auth.Respond(challenge.Value(), "REGISTER", "sip:"+domain, b.user, password)
	if err != nil {
		t.Fatal(err)
	}
	b.send(t, request(2, "Authorization: "+ans.Authorization))
	res = b.response(t)
	if res.StatusCode != 200 {
		t.Fatalf("authenticated REGISTER: %d %s, want 200\n%s", res.StatusCode, res.Reason, res)
	}
	want := b.contactURI()
	bound := false
	for _, h := range res.GetHeaders("Contact") {
		if c, ok := h.(*sip.ContactHeader); ok && c.Address.User == want.User && c.Address.Host == want.Host {
			bound = true
		}
	}
	if !bound {
		t.Fatalf("200 does not list the contact %s:\n%s", b.contact, res)
	}
	paths := res.GetHeaders("Path")
	if len(paths) != 1 {
		t.Fatalf("200 has %d Path headers, want the gateway's one (Kamailio path_mode 1 with Supported: path):\n%s", len(paths), res)
	}
	var path sip.Uri
	if err := sip.ParseUri(strings.Trim(paths[0].Value(), "<>"), &path); err != nil {
		t.Fatalf("Path %q: %v", paths[0].Value(), err)
	}
	return path
}

// reply answers req with a response of the browser's own (RFC 3261 §8.2.6):
// Via, From, Call-ID and CSeq copied, To with toTag added.
func (b *browser) reply(t *testing.T, req *sip.Request, code int, reason, toTag string) {
	t.Helper()
	var s strings.Builder
	fmt.Fprintf(&s, "SIP/2.0 %d %s\r\n", code, reason)
	for _, v := range req.GetHeaders("Via") {
		s.WriteString("Via: " + v.Value() + "\r\n")
	}
	s.WriteString("From: " + req.From().Value() + "\r\n")
	s.WriteString("To: " + req.To().Value() + ";tag=" + toTag + "\r\n")
	s.WriteString("Call-ID: " + req.CallID().Value() + "\r\n")
	s.WriteString("CSeq: " + req.CSeq().Value() + "\r\n")
	s.WriteString("Content-Length: 0\r\n\r\n")
	b.send(t, s.String())
}
