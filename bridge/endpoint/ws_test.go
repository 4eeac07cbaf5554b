package endpoint

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/coder/websocket"

	"github.com/simplegw/simplegw/bridge/auth"
	"github.com/simplegw/simplegw/bridge/msrp"
)

// fakeRelay is a tiny stand-in for an RFC 7977 WebSocket server: it answers AUTH with the
// real digest server of package auth, answers SEND 200, echoes every chunk back to its
// sender as a SEND from the relay, and sends a success REPORT when asked. It checks that
// every WebSocket message is exactly one binary MSRP message.
type fakeRelay struct {
	t          *testing.T
	digest     *auth.Digest
	self, use  msrp.URI
	textFrames bool // echo in text frames (RFC 7977 §4.2: clients accept both)
	staleOnce  bool // answer the first credentials with stale=true

	mu     sync.Mutex
	chunks int // SEND chunks received
}

func newFakeRelay(t *testing.T) *fakeRelay {
	store := auth.NewStore(auth.StoreConfig{Users: map[string]string{"alice": "secret"}})
	return &fakeRelay{
		t: t, digest: auth.NewDigest("relay.example", store),
		self: mustURI(t, "msrp://127.0.0.1:8080;ws"),
		use:  mustURI(t, "msrp://127.0.0.1:2855/usepath1;tcp"),
	}
}

func (f *fakeRelay) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{"msrp"}})
	if err != nil {
		return
	}
	defer ws.CloseNow()
	if ws.Subprotocol() != "msrp" {
		ws.Close(websocket.StatusPolicyViolation, "subprotocol msrp required")
		return
	}
	ws.SetReadLimit(8 << 20)
	ctx := r.Context()
	write := func(m *msrp.Message, typ websocket.MessageType) {
		if err := ws.Write(ctx, typ, m.Bytes()); err != nil {
			return
		}
	}
	for {
		typ, b, err := ws.Read(ctx)
		if err != nil {
			return
		}
		if typ != websocket.MessageBinary {
			f.t.Errorf("client sent a text frame")
		}
		m, err := msrp.Parse(b)
		if err != nil {
			f.t.Errorf("relay got a WebSocket message that is not one MSRP message: %v", err)
			return
		}
		switch m.Method {
		case msrp.MethodAUTH:
			write(f.auth(m), websocket.MessageBinary)
		case msrp.MethodSEND:
			write(msrp.NewResponse(m, 200, "", f.use), websocket.MessageBinary)
			if !m.HasBody {
				continue
			}
			f.mu.Lock()
			f.chunks++
			f.mu.Unlock()
			echo := *m
			echo.TransactionID = msrp.NewTransactionID(m.Body)
			echo.ToPath, echo.FromPath = m.FromPath, []msrp.URI{f.use}
			echo.SuccessReport = ""
			typ := websocket.MessageBinary
			if f.textFrames {
				typ = websocket.MessageText
			}
			write(&echo, typ)
			if m.WantsSuccessReport() && m.Flag == msrp.FlagEnd {
				total := m.ByteRange.Start - 1 + int64(len(m.Body))
				write(&msrp.Message{TransactionID: msrp.NewIdent(), Method: msrp.MethodREPORT, ToPath: m.FromPath,
					FromPath: []msrp.URI{f.use}, MessageID: m.MessageID,
					ByteRange: &msrp.ByteRange{Start: 1, End: total, Total: total},
					Status:    &msrp.Status{Code: 200, Comment: "OK"}}, websocket.MessageBinary)
			}
		}
	}
}

// auth answers an AUTH as RFC 4976 §6.3 says.
func (f *fakeRelay) auth(m *msrp.Message) *msrp.Message {
	uri := m.ToPath[len(m.ToPath)-1].String()
	authz, _ := m.Get("Authorization")
	creds, err := f.digest.Verify(authz, "AUTH", uri)
	if err == nil && f.staleOnce {
		f.staleOnce = false
		err = auth.ErrStaleNonce
	}
	var resp *msrp.Message
	switch {
	case errors.Is(err, auth.ErrNoCredentials):
		resp = msrp.NewResponse(m, 401, "", f.self)
		resp.Set("WWW-Authenticate", f.digest.Challenge(false))
	case errors.Is(err, auth.ErrStaleNonce):
		resp = msrp.NewResponse(m, 401, "", f.self)
		resp.Set("WWW-Authenticate", f.digest.Challenge(true))
	case errors.Is(err, auth.ErrForbidden):
		resp = msrp.NewResponse(m, 403, "", f.self)
	case err != nil:
		resp = msrp.NewResponse(m, 400, "", f.self)
	case creds.URI != uri:
		resp = msrp.NewResponse(m, 400, "digest-uri is not the rightmost To-Path URI", f.self)
	default:
		if e, ok := m.Expires(); ok && e < 60 {
			resp = msrp.NewResponse(m, 423, "", f.self)
			resp.Set("Min-Expires", "60")
			break
		}
		resp = msrp.NewResponse(m, 200, "", f.self)
		resp.Set("Use-Path", f.use.String())
		resp.Set("Expires", "600")
		resp.Set("Authentication-Info", f.digest.AuthenticationInfo(creds))
	}
	return resp
}

func wsURL(srv *httptest.Server) string { return "ws" + strings.TrimPrefix(srv.URL, "http") + "/msrp" }

func TestWebSocketClient(t *testing.T) {
	ctx := testCtx(t)
	relay := newFakeRelay(t)
	relay.textFrames = true
	relay.staleOnce = true
	srv := httptest.NewServer(relay)
	defer srv.Close()

	in := newInbox()
	c, err := Dial(ctx, wsURL(srv), Options{OnMessage: in.deliver})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Transport() != "ws" {
		t.Errorf("transport %s", c.Transport())
	}
	s := c.NewSession(nil)
	if !s.Local.IsWebSocket() || !strings.HasSuffix(s.Local.Host, ".invalid") || s.Local.SessionID == "" {
		t.Errorf("local URI %s, want a ws URI with a .invalid host (RFC 7977 §5.2.1)", s.Local)
	}

	// AUTH → 401 → AUTH (stale) → 401 stale=true → AUTH → 200 (RFC 4976 §5.1).
	ar, err := c.Auth(ctx, s.Local, []msrp.URI{relay.self}, "alice", "secret", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(ar.UsePath) != 1 || !ar.UsePath[0].Equal(relay.use) || ar.Expires != 600 {
		t.Fatalf("auth result %+v", ar)
	}
	s.ToPath = append(ar.UsePath, mustURI(t, "msrp://127.0.0.1:2860/peer1;tcp"))

	res, err := c.Send(ctx, s, "text/plain", strings.NewReader("hello relay"), 11, SendOptions{SuccessReport: true})
	if err != nil || !res.Reported {
		t.Fatalf("send: %+v %v", res, err)
	}
	if m := in.next(t, ctx); string(m.Body) != "hello relay" || !m.Local.Equal(s.Local) || !m.FromPath[0].Equal(relay.use) {
		t.Fatalf("echo %+v", m)
	}

	// A multi-chunk message: one chunk per WebSocket message (RFC 7977 §5.1).
	data := randomBytes(t, 200_000)
	res, err = c.Send(ctx, s, "application/octet-stream", bytes.NewReader(data), int64(len(data)), SendOptions{ChunkSize: 16384, Window: 4})
	if err != nil {
		t.Fatal(err)
	}
	if want := (len(data) + 16383) / 16384; res.Transactions != want {
		t.Errorf("%d transactions, want %d", res.Transactions, want)
	}
	if m := in.next(t, ctx); sum(m.Body) != sum(data) {
		t.Fatal("echoed message differs")
	}

	// Refusals carry the MSRP status.
	_, err = c.Auth(ctx, s.Local, []msrp.URI{relay.self}, "alice", "wrong", 0)
	if Code(err) != 403 {
		t.Errorf("bad password: %v, want 403", err)
	}
	_, err = c.Auth(ctx, s.Local, []msrp.URI{relay.self}, "alice", "secret", 10)
	var se *StatusError
	if !errors.As(err, &se) || se.Code != 423 {
		t.Fatalf("short Expires: %v, want 423", err)
	}
	if v, _ := se.Message.Get("Min-Expires"); v != "60" {
		t.Errorf("Min-Expires %q", v)
	}
	if err := c.Keepalive(ctx, s); err != nil {
		t.Errorf("keepalive: %v", err)
	}
}

func TestWebSocketNeedsSubprotocol(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil) // selects no subprotocol
		if err != nil {
			return
		}
		ws.CloseNow()
	}))
	defer srv.Close()
	if c, err := Dial(testCtx(t), wsURL(srv), Options{}); err == nil {
		c.Close()
		t.Fatal("dial succeeded without the msrp subprotocol (RFC 7977 §4.1)")
	}
}

// TestWebSocketBadMessage: a WebSocket message that is not an MSRP message closes the
// connection with a reason; a malformed request is answered.
func TestWebSocketBadMessage(t *testing.T) {
	ctx := testCtx(t)
	answered := make(chan *msrp.Message, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{"msrp"}})
		if err != nil {
			return
		}
		defer ws.CloseNow()
		ws.Write(ctx, websocket.MessageBinary, []byte("MSRP bad1 SEND\r\nTo-Path: x\r\n-------bad1$\r\n"))
		if _, b, err := ws.Read(ctx); err == nil {
			m, _ := msrp.Parse(b)
			answered <- m
		}
		ws.Write(ctx, websocket.MessageBinary, []byte("not msrp at all"))
		ws.Read(ctx) // wait for the close
	}))
	defer srv.Close()
	c, err := Dial(ctx, wsURL(srv), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	select {
	case m := <-answered:
		if m == nil || m.TransactionID != "bad1" || m.Code != 400 {
			t.Errorf("answer %+v, want 400 to bad1", m)
		}
	case <-ctx.Done():
		t.Fatal("no answer")
	}
	select {
	case <-c.Done():
		if c.Err() == nil || !strings.Contains(c.Err().Error(), "bad WebSocket message") {
			t.Errorf("Err = %v", c.Err())
		}
	case <-ctx.Done():
		t.Fatal("connection not closed")
	}
}
