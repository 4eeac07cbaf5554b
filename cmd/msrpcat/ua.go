package main

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/simplegw/simplegw/bridge/endpoint"
	"github.com/simplegw/simplegw/bridge/msrp"
	"github.com/simplegw/simplegw/bridge/sdp"
	"github.com/simplegw/simplegw/bridge/sipua"
)

// bindPoll is how often a passive side looks whether its peer has connected and sent the
// first SEND (package endpoint binds the session then, and has no notification for it).
const bindPoll = 5 * time.Millisecond

// shutdownTimeout bounds the BYE and un-REGISTER sent on the way out.
const shutdownTimeout = 5 * time.Second

// uaConfig is what the ua command line says.
type uaConfig struct {
	aor, via, transport, user, password string
	expires                             int
	listen                              string
	serverTLS, clientTLS                *tls.Config
	call                                string
	text                                string
	hasText                             bool
	file, ctype                         string
	dir                                 string
	count                               int
	timeout, answerDelay, ringTimeout   time.Duration
	preferActive                        bool
	textMax, maxSize                    int64
}

func parseUA(args []string) (*uaConfig, error) {
	fs := newFlagSet("ua")
	c := &uaConfig{}
	fs.StringVar(&c.aor, "register", "", "address-of-record to register, sip:bob@localhost")
	fs.StringVar(&c.via, "via", "", "the SIP proxy and registrar, host:port")
	fs.StringVar(&c.transport, "transport", "udp", "SIP transport to the proxy: udp, tcp or tls")
	fs.StringVar(&c.user, "user", "", "digest user name (default: the user of --register)")
	fs.StringVar(&c.password, "password", "", "digest password")
	fs.IntVar(&c.expires, "expires", sipua.DefaultExpires, "registration interval asked for, seconds")
	fs.StringVar(&c.listen, "listen", "127.0.0.1:0", "MSRP listener (TCP, or TLS with --tls-cert)")
	certFile := fs.String("tls-cert", "", "TLS certificate (PEM): MSRP over TLS (msrps)")
	keyFile := fs.String("tls-key", "", "TLS private key (PEM)")
	caFile := fs.String("ca", "", "trust the certificates in this PEM file (msrps peers, SIP over TLS)")
	insecure := fs.Bool("insecure-skip-verify", false, "do not verify TLS certificates")
	fs.StringVar(&c.call, "call", "", "call this URI (sip:alice@localhost, or just alice)")
	text := fs.String("send", "", "send this text on each session")
	fs.StringVar(&c.file, "file", "", "send this file on each session")
	fs.StringVar(&c.ctype, "content-type", "", "Content-Type of --send (default text/plain)")
	fs.StringVar(&c.dir, "dir", ".", "directory for received files")
	fs.IntVar(&c.count, "count", 0, "finish after this many messages received (0: do not wait for any)")
	fs.DurationVar(&c.timeout, "timeout", 0, "give up after this long (0: no limit)")
	fs.DurationVar(&c.answerDelay, "answer-delay", 0, "ring this long before answering an incoming call")
	fs.DurationVar(&c.ringTimeout, "ring-timeout", 0, "cancel the --call when it has rung this long without an answer")
	setup := fs.String("setup", "passive", "answer to an a=setup:actpass offer: passive (wait for the peer) or active (connect)")
	fs.Int64Var(&c.textMax, "text-max", 64<<10, "largest text message printed rather than saved")
	fs.Int64Var(&c.maxSize, "max-size", 0, "largest message accepted, in bytes (0: no limit)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return nil, err
	}
	if len(pos) > 0 {
		return nil, usagef("ua takes no arguments, got %q (text to send goes in --send)", pos)
	}
	if c.aor == "" {
		return nil, usagef("--register is required")
	}
	if c.via == "" {
		return nil, usagef("--via is required")
	}
	switch c.transport = strings.ToLower(c.transport); c.transport {
	case "udp", "tcp", "tls":
	default:
		return nil, usagef("--transport must be udp, tcp or tls")
	}
	switch *setup {
	case "passive":
	case "active":
		c.preferActive = true
	default:
		return nil, usagef("--setup must be passive or active")
	}
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "send" {
			c.hasText = true
		}
	})
	c.text = *text
	if c.count < 0 || c.expires <= 0 || c.textMax < 0 || c.maxSize < 0 || c.timeout < 0 || c.answerDelay < 0 || c.ringTimeout < 0 {
		return nil, usagef("--count, --expires, --text-max, --max-size and the durations must not be negative (--expires positive)")
	}
	if st, err := os.Stat(c.dir); err != nil || !st.IsDir() {
		return nil, usagef("--dir %s is not a directory", c.dir)
	}
	if c.file != "" {
		st, err := os.Stat(c.file)
		if err != nil {
			return nil, usagef("--file: %v", err)
		}
		if !st.Mode().IsRegular() {
			return nil, usagef("--file %s is not a regular file", c.file)
		}
	}
	switch {
	case *certFile != "" && *keyFile != "":
		cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
		if err != nil {
			return nil, usagef("--tls-cert/--tls-key: %v", err)
		}
		c.serverTLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	case *certFile != "" || *keyFile != "":
		return nil, usagef("--tls-cert and --tls-key go together")
	}
	c.clientTLS = &tls.Config{InsecureSkipVerify: *insecure, MinVersion: tls.VersionTLS12}
	if *caFile != "" {
		pem, err := os.ReadFile(*caFile)
		if err != nil {
			return nil, usagef("--ca: %v", err)
		}
		c.clientTLS.RootCAs = x509.NewCertPool()
		if !c.clientTLS.RootCAs.AppendCertsFromPEM(pem) {
			return nil, usagef("--ca %s holds no PEM certificate", *caFile)
		}
	}
	return c, nil
}

// uaApp is a running "msrpcat ua": one SIP user agent, one MSRP listener, and the
// calls in progress.
type uaApp struct {
	cfg *uaConfig
	out *lineWriter
	log *slog.Logger
	rx  *receiver
	ln  *endpoint.Listener
	ua  *sipua.UA

	wg      sync.WaitGroup // session goroutines
	quit    chan struct{}  // closed by shutdown: sessions end their calls
	mu      sync.Mutex
	closing bool                 // shutdown has begun: no new session
	calls   map[*sipua.Call]bool // answered calls whose session runs
	changed chan struct{}        // capacity 1: poked when a call ends
}

func runUA(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseUA(args)
	if err != nil {
		return err
	}
	if cfg.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.timeout)
		defer cancel()
	}
	out := &lineWriter{w: stdout}
	app := &uaApp{cfg: cfg, out: out, log: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		rx:    &receiver{out: out, dir: cfg.dir, textMax: cfg.textMax, count: cfg.count, done: make(chan struct{})},
		calls: map[*sipua.Call]bool{}, changed: make(chan struct{}, 1), quit: make(chan struct{})}

	ln, err := endpoint.Listen(cfg.listen, app.msrpOptions(cfg.serverTLS))
	if err != nil {
		return fmt.Errorf("MSRP listener: %w", err)
	}
	app.ln = ln
	defer ln.Close()

	ua, err := sipua.New(ctx, sipua.Config{AOR: cfg.aor, Proxy: cfg.via, Transport: cfg.transport,
		User: cfg.user, Password: cfg.password, Expires: cfg.expires, TLSConfig: cfg.clientTLS,
		UserAgent: "msrpcat", OnInvite: func(ic *sipua.IncomingCall) { app.answer(ctx, ic) }, Logger: app.log})
	if err != nil {
		return fmt.Errorf("SIP: %w", err)
	}
	app.ua = ua
	defer ua.Close()
	if _, err := ua.Register(ctx); err != nil {
		return fmt.Errorf("REGISTER %s via %s: %w", cfg.aor, cfg.via, err)
	}
	out.printf("registered %s", ua.AOR())
	defer app.shutdown()

	if cfg.call != "" {
		return app.placeCall(ctx)
	}
	for {
		if cfg.count > 0 && closed(app.rx.done) && app.active() == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			if cfg.count > 0 && !closed(app.rx.done) && cfg.timeout > 0 && errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("--timeout: %d of %d messages received", app.rx.receivedCount(), cfg.count)
			}
			return nil
		case <-ua.Done():
			return ua.Err()
		case <-app.rx.done:
		case <-app.changed:
		}
	}
}

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func (r *receiver) receivedCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.received
}

func (app *uaApp) msrpOptions(tlsConfig *tls.Config) endpoint.Options {
	return endpoint.Options{TLSConfig: tlsConfig, OpenSink: app.rx.openSink, OnMessage: app.rx.onMessage,
		MaxMessageSize: app.cfg.maxSize}
}

func (app *uaApp) active() int {
	app.mu.Lock()
	defer app.mu.Unlock()
	return len(app.calls)
}

// track counts an answered call in, with its session goroutine; it refuses once
// shutdown has begun.
func (app *uaApp) track(c *sipua.Call) bool {
	app.mu.Lock()
	defer app.mu.Unlock()
	if app.closing {
		return false
	}
	app.calls[c] = true
	app.wg.Add(1)
	return true
}

func (app *uaApp) untrack(c *sipua.Call) {
	app.mu.Lock()
	delete(app.calls, c)
	app.mu.Unlock()
	select {
	case app.changed <- struct{}{}:
	default:
	}
}

// shutdown has the sessions end their calls with BYE, waits for them, and removes the
// registration.
func (app *uaApp) shutdown() {
	app.mu.Lock()
	app.closing = true
	app.mu.Unlock()
	close(app.quit)
	app.wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := app.ua.Unregister(ctx); err != nil && !errors.Is(err, sipua.ErrClosed) {
		app.log.Warn("un-REGISTER", "error", err)
	}
}

// hangUp ends a call with BYE unless it has ended, and prints "bye".
func (app *uaApp) hangUp(call *sipua.Call) {
	if !closed(call.Done()) {
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		if err := call.Bye(ctx); err != nil {
			app.log.Warn("BYE", "call-id", call.ID(), "error", err)
		}
	}
	app.out.printf("bye")
}

// answer serves an incoming INVITE: 180, then 200 with an MSRP answer, or a refusal
// saying what is wrong with the offer.
func (app *uaApp) answer(ctx context.Context, ic *sipua.IncomingCall) {
	app.out.printf("incoming %s", ic.From())
	if ct := ic.ContentType(); ct != "application/sdp" {
		app.reject(ic, 415, "Unsupported Media Type: an application/sdp offer is expected")
		return
	}
	local := app.ln.NewSession(nil).Local
	answer, remote, active, err := sipua.AnswerMSRP(ic.Offer(), sipua.MSRPLocal{Path: local, MaxSize: app.cfg.maxSize}, app.cfg.preferActive)
	if err != nil {
		var se *sdp.Error
		if errors.As(err, &se) {
			app.reject(ic, se.Code, se.Reason)
		} else {
			app.reject(ic, 488, "Not Acceptable Here")
		}
		return
	}
	if err := ic.Ring(); err != nil {
		app.canceledOr(ic, err)
		return
	}
	if d := app.cfg.answerDelay; d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ic.Canceled():
			t.Stop()
			app.out.printf("canceled %s", ic.From())
			return
		case <-ctx.Done():
			t.Stop()
			app.reject(ic, 480, "")
			return
		}
	}
	call, err := ic.Answer("application/sdp", answer)
	if err != nil {
		app.canceledOr(ic, err)
		return
	}
	app.out.printf("session %s %s", local, msrp.FormatPath(remote.Path))
	if !app.track(call) {
		app.hangUp(call) // shutting down
		return
	}
	go func() {
		defer app.wg.Done()
		app.session(ctx, call, local, remote, active)
	}()
}

func (app *uaApp) reject(ic *sipua.IncomingCall, code int, reason string) {
	if err := ic.Reject(code, reason); err != nil {
		app.canceledOr(ic, err)
		return
	}
	app.out.printf("rejected %s %d %s", ic.From(), code, reason)
}

func (app *uaApp) canceledOr(ic *sipua.IncomingCall, err error) {
	if errors.Is(err, sipua.ErrCanceled) {
		app.out.printf("canceled %s", ic.From())
		return
	}
	app.log.Warn("answering the INVITE failed", "from", ic.From(), "error", err)
}

// session runs the MSRP side of an answered call: connect (or wait for the peer), send
// what the command line says, and wait for the call to end, or end it at shutdown.
func (app *uaApp) session(ctx context.Context, call *sipua.Call, local msrp.URI, remote *sipua.MSRPRemote, active bool) {
	defer app.untrack(call)
	conn, dialled, err := app.connect(ctx, call, local, remote, active)
	if err != nil {
		if !closed(call.Done()) {
			app.log.Warn("MSRP connection", "call-id", call.ID(), "error", err)
		}
	} else {
		if dialled {
			defer conn.Close()
		}
		if err := app.sendAll(ctx, conn, &endpoint.Session{Local: local, ToPath: remote.Path}, remote); err != nil {
			app.log.Warn("MSRP send", "call-id", call.ID(), "error", err)
		}
	}
	select {
	case <-call.Done():
	case <-app.quit:
	}
	app.hangUp(call)
}

// connect opens the session's MSRP connection as RFC 4975 §5.4 and RFC 6135 §4.2 say.
// Active: dial the first URI of the peer's path and send a bodiless SEND at once, which
// binds the session at the far end. Passive: when there is something to send, wait for
// the peer's connection and first SEND (without, messages simply arrive on the
// listener).
func (app *uaApp) connect(ctx context.Context, call *sipua.Call, local msrp.URI, remote *sipua.MSRPRemote, active bool) (*endpoint.Conn, bool, error) {
	if active {
		c, err := endpoint.Dial(ctx, remote.Path[0].String(), app.msrpOptions(app.cfg.clientTLS))
		if err != nil {
			return nil, false, fmt.Errorf("connect to %s: %w", remote.Path[0], err)
		}
		if err := c.Bind(local); err != nil {
			c.Close()
			return nil, false, err
		}
		if err := c.Keepalive(ctx, &endpoint.Session{Local: local, ToPath: remote.Path}); err != nil {
			c.Close()
			return nil, false, fmt.Errorf("first SEND to %s: %w", remote.Path[0], err)
		}
		return c, true, nil
	}
	if !app.cfg.hasText && app.cfg.file == "" {
		return nil, false, nil
	}
	tick := time.NewTicker(bindPoll)
	defer tick.Stop()
	for {
		if c := app.ln.Conn(local); c != nil {
			return c, false, nil
		}
		select {
		case <-tick.C:
		case <-call.Done():
			return nil, false, errors.New("the call ended before the peer connected")
		case <-ctx.Done():
			return nil, false, ctx.Err()
		}
	}
}

// sendAll sends --send and --file on s, printing "sent" for each.
func (app *uaApp) sendAll(ctx context.Context, c *endpoint.Conn, s *endpoint.Session, remote *sipua.MSRPRemote) error {
	if c == nil {
		return nil
	}
	if app.cfg.hasText {
		ctype := app.cfg.ctype
		if ctype == "" {
			ctype = "text/plain"
		}
		if err := app.sendOne(ctx, c, s, remote, ctype, strings.NewReader(app.cfg.text), int64(len(app.cfg.text)), nil); err != nil {
			return err
		}
	}
	if app.cfg.file != "" {
		f, err := os.Open(app.cfg.file)
		if err != nil {
			return err
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			return err
		}
		ctype := mime.TypeByExtension(filepath.Ext(app.cfg.file))
		if ctype == "" {
			ctype = "application/octet-stream"
		}
		fields := []msrp.Field{{Name: "Content-Disposition", Value: mime.FormatMediaType("attachment", map[string]string{"filename": filepath.Base(app.cfg.file)})}}
		if err := app.sendOne(ctx, c, s, remote, ctype, f, st.Size(), fields); err != nil {
			return err
		}
	}
	return nil
}

func (app *uaApp) sendOne(ctx context.Context, c *endpoint.Conn, s *endpoint.Session, remote *sipua.MSRPRemote, ctype string, body io.Reader, size int64, fields []msrp.Field) error {
	// RFC 4975 §8.6: nothing the peer did not list in a=accept-types.
	if !remote.Accepts(ctype) {
		return fmt.Errorf("the peer does not accept %s (a=accept-types:%s)", ctype, strings.Join(remote.AcceptTypes, " "))
	}
	h := sha256.New()
	// Ask for a success REPORT and wait for it: through a relay the 200 only says the first
	// hop has the chunk (RFC 4976 §6.4.1), and a BYE sent right after it can overtake the
	// message on its way to the peer. "sent" is printed once the peer has it all.
	res, err := c.Send(ctx, s, ctype, io.TeeReader(body, h), size, endpoint.SendOptions{Fields: fields,
		SuccessReport: true, ReportTimeout: successReportTimeout})
	if err != nil {
		return fmt.Errorf("%s of %d bytes: %w", ctype, size, err)
	}
	app.out.printf("sent %d sha256=%s", res.Bytes, hex.EncodeToString(h.Sum(nil)))
	return nil
}

// successReportTimeout bounds the wait for the peer's success REPORT after the last chunk.
const successReportTimeout = 30 * time.Second

// placeCall is --call: INVITE with an MSRP offer, connect as the answer says, send,
// wait for --count messages, BYE.
func (app *uaApp) placeCall(ctx context.Context) error {
	local := app.ln.NewSession(nil).Local
	offer := sipua.MSRPOffer(sipua.MSRPLocal{Path: local, MaxSize: app.cfg.maxSize})
	// --ring-timeout counts from the first provisional response, so that the CANCEL can
	// go at once (RFC 3261 §9.1: not before a provisional response).
	ictx, cancel := context.WithCancel(ctx)
	defer cancel()
	var ringTimer *time.Timer
	defer func() {
		if ringTimer != nil {
			ringTimer.Stop()
		}
	}()
	call, err := app.ua.Invite(ictx, app.cfg.call, offer, sipua.InviteOptions{OnProvisional: func(code int, reason string) {
		app.out.printf("ringing %d %s", code, reason)
		if ringTimer == nil && app.cfg.ringTimeout > 0 {
			ringTimer = time.AfterFunc(app.cfg.ringTimeout, cancel)
		}
	}})
	if err != nil {
		if errors.Is(err, sipua.ErrCanceled) && ctx.Err() == nil {
			return fmt.Errorf("call to %s not answered within --ring-timeout: %w", app.cfg.call, err)
		}
		return fmt.Errorf("call to %s: %w", app.cfg.call, err)
	}
	var dialledConn *endpoint.Conn
	defer func() {
		app.hangUp(call) // BYE before the MSRP connection closes
		if dialledConn != nil {
			dialledConn.Close()
		}
	}()
	remote, active, err := sipua.ReadMSRPAnswer(call.RemoteSDP())
	if err != nil {
		return fmt.Errorf("call to %s: bad answer: %w", app.cfg.call, err)
	}
	app.out.printf("session %s %s", local, msrp.FormatPath(remote.Path))

	conn, dialled, err := app.connect(ctx, call, local, remote, active)
	if err != nil {
		return err
	}
	if dialled {
		dialledConn = conn
	}
	if err := app.sendAll(ctx, conn, &endpoint.Session{Local: local, ToPath: remote.Path}, remote); err != nil {
		return err
	}
	if app.cfg.count > 0 {
		select {
		case <-app.rx.done:
		case <-call.Done():
			return fmt.Errorf("the call ended after %d of %d messages", app.rx.receivedCount(), app.cfg.count)
		case <-ctx.Done():
			return fmt.Errorf("%d of %d messages received: %w", app.rx.receivedCount(), app.cfg.count, ctx.Err())
		}
	}
	return nil
}
