// Command msrpcat is an MSRP endpoint for the command line (RFC 4975), for integrators
// testing MSRP systems and for simplegw's own tests: it listens for MSRP peers and relays
// on TCP or TLS and prints what arrives, or sends text or a file over TCP, TLS or a
// WebSocket relay (RFC 7977), authenticating to the relay with AUTH (RFC 4976) when asked.
//
// Listen:
//
//	msrpcat listen 127.0.0.1:2860 [--tls-cert F --tls-key F] [--dir DIR] [--count N]
//
// The first line on stdout is the session's path URI,
//
//	path msrp://127.0.0.1:2860/<random>;tcp
//
// (msrps:// with TLS; port 0 picks a free port and the line shows it). Any number of
// senders and relays may use that path, one after another or at once (a real session is
// bound to one connection, RFC 4975 §5.4; a test peer is more useful without that rule).
// Then one line per message:
//
//	message <from> <content-type> <text>               text/* or message/cpim up to --text-max bytes
//	file <path> <bytes> sha256=<hex>                   anything else, saved in DIR
//	failed <message-id> <reason>                       aborted, refused or cut off
//
// <from> is the sender's own URI (the last From-Path URI). A text containing control
// characters or invalid UTF-8 is printed as a Go quoted string. A file is named after the
// filename of its Content-Disposition when it has one (RFC 5547), otherwise after its
// Message-ID; an existing file is never overwritten. With --count N msrpcat exits after N
// messages (failed ones included); otherwise it runs until SIGINT or SIGTERM.
//
// Send:
//
//	msrpcat send --to-path "URI URI…" [--file F | text…] [--relay URI --user U --password P]
//	             [--via ws://127.0.0.1:8080/msrp | tcp://host:port | tls://host:port]
//	             [--chunk N] [--window N] [--success-report] [--insecure-skip-verify] [--ca F]
//
// --to-path is the peer's path, as its SDP path attribute gives it. With --relay msrpcat
// first sends AUTH to that relay URI and puts the Use-Path it grants in front of
// --to-path. The connection goes to --via when given, else to the relay URI, else to the
// first --to-path URI. On success it prints
//
//	sent <bytes> sha256=<hex>
//	result 200 OK message-id=<id> transactions=<n>[ success-report=200]
//
// ("result written …" with --failure-report partial or no, where no 200 comes back).
//
// SIP user agent:
//
//	msrpcat ua --register sip:bob@localhost --via 127.0.0.1:5060 [--transport udp|tcp|tls]
//	           [--password P] [--listen 127.0.0.1:0] [--tls-cert F --tls-key F]
//	           [--call sip:alice@localhost] [--send TEXT] [--file F] [--count N] [--timeout D]
//
// registers like a softphone (digest answered, refreshed, removed on exit), answers
// INVITEs carrying an MSRP offer with its own path on the --listen listener (RFC 4975
// §8), and with --call places an INVITE itself; on each session it sends --send and
// --file and prints what arrives as listen does. It prints, one per line:
//
//	registered <aor>
//	incoming <from-uri>                    an INVITE arrived
//	ringing <code> <reason>                our INVITE got a provisional response
//	session <local-uri> <remote-path…>     the offer/answer is done
//	message … / file … / failed …          as listen prints them
//	sent <bytes> sha256=<hex>              one of our messages was delivered
//	canceled <from-uri>                    the caller canceled before the answer
//	rejected <from-uri> <code> <reason>    an offer we could not take
//	bye                                    the call ended
//
// With --call it exits after the BYE it sends once its messages are delivered and
// --count messages have arrived; without, it exits once --count messages have arrived
// and no call is up, or at --timeout, SIGINT or SIGTERM.
//
// Exit status: 0 on success; 1 when the transfer fails (the error names the MSRP status,
// "msrp: 481 Session Does Not Exist"); 2 for a usage error (the message names the flag).
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
	"mime"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/simplegw/simplegw/bridge/endpoint"
	"github.com/simplegw/simplegw/bridge/msrp"
)

const usage = `usage:
  msrpcat listen ADDR [--tls-cert F --tls-key F] [--dir DIR] [--count N] [--text-max N] [--max-size N]
  msrpcat send --to-path "URI URI…" [--file F | text…] [--content-type T]
               [--relay URI --user U --password P [--expires S]]
               [--via ws://host:port/msrp | wss://… | tcp://host:port | tls://host:port]
               [--chunk N] [--window N] [--success-report] [--failure-report yes|partial|no]
               [--insecure-skip-verify] [--ca F] [--origin O] [--timeout D]
  msrpcat ua --register sip:bob@localhost --via HOST:PORT [--transport udp|tcp|tls]
             [--user U] [--password P] [--expires S] [--listen ADDR] [--tls-cert F --tls-key F]
             [--call URI [--ring-timeout D]] [--send TEXT] [--file F] [--content-type T]
             [--dir DIR] [--count N] [--timeout D] [--answer-delay D] [--setup passive|active]
             [--ca F] [--insecure-skip-verify] [--text-max N] [--max-size N]
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is msrpcat with its arguments (without the program name); it returns the exit
// status. SIGINT and SIGTERM end a listen.
func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return runContext(ctx, args, stdout, stderr)
}

// runContext is run under ctx: when ctx ends, a listen returns 0 and a send fails.
func runContext(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "listen":
		err = listen(ctx, args[1:], stdout)
	case "send":
		err = send(ctx, args[1:], stdout)
	case "ua":
		err = runUA(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help", "-help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		err = usageError{fmt.Sprintf("unknown command %q: use listen, send or ua", args[0])}
	}
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(stdout, usage)
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "msrpcat: %s\n%s", ue.msg, usage)
		return 2
	}
	fmt.Fprintf(stderr, "msrpcat: %v\n", err)
	return 1
}

// usageError is a mistake on the command line (exit status 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

// parseArgs parses flags placed anywhere among the positional arguments; everything
// after "--" is positional.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var tail []string
	for i, a := range args {
		if a == "--" {
			args, tail = args[:i], args[i+1:]
			break
		}
	}
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{err.Error()}
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	return append(pos, tail...), nil
}

func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// lineWriter writes whole lines to stdout from concurrent goroutines.
type lineWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lineWriter) printf(format string, a ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, format+"\n", a...)
}

func listen(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlagSet("listen")
	certFile := fs.String("tls-cert", "", "TLS certificate (PEM) to listen with TLS")
	keyFile := fs.String("tls-key", "", "TLS private key (PEM)")
	dir := fs.String("dir", ".", "directory for received files")
	count := fs.Int("count", 0, "exit after this many messages (0: run until a signal)")
	textMax := fs.Int64("text-max", 64<<10, "largest text message printed rather than saved")
	maxSize := fs.Int64("max-size", 0, "largest message accepted, in bytes (0: no limit)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("listen needs exactly one address (host:port), got %d arguments", len(pos))
	}
	if *count < 0 {
		return usagef("--count must not be negative")
	}
	if *textMax < 0 || *maxSize < 0 {
		return usagef("--text-max and --max-size must not be negative")
	}
	if st, err := os.Stat(*dir); err != nil || !st.IsDir() {
		return usagef("--dir %s is not a directory", *dir)
	}
	var tlsConfig *tls.Config
	switch {
	case *certFile != "" && *keyFile != "":
		cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
		if err != nil {
			return usagef("--tls-cert/--tls-key: %v", err)
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	case *certFile != "" || *keyFile != "":
		return usagef("--tls-cert and --tls-key go together")
	}

	out := &lineWriter{w: stdout}
	r := &receiver{out: out, dir: *dir, textMax: *textMax, count: *count, done: make(chan struct{})}
	l, err := endpoint.Listen(pos[0], endpoint.Options{
		TLSConfig:      tlsConfig,
		OpenSink:       r.openSink,
		OnMessage:      r.onMessage,
		MaxMessageSize: *maxSize,
		SharedSessions: true,
	})
	if err != nil {
		return err
	}
	defer l.Close()
	out.printf("path %s", l.NewSession(nil).Local)
	select {
	case <-ctx.Done():
	case <-r.done:
	}
	return nil
}

// receiver prints and stores what a listening msrpcat receives.
type receiver struct {
	out     *lineWriter
	dir     string
	textMax int64
	count   int

	mu       sync.Mutex
	received int
	done     chan struct{}
}

func isText(ctype string) bool {
	mt, _, err := mime.ParseMediaType(ctype)
	if err != nil {
		return false
	}
	return strings.HasPrefix(mt, "text/") || mt == "message/cpim"
}

// spillSink receives one message: a text message stays in memory up to textMax bytes
// and is printed; anything else, or a text that grows larger, goes to a file in the
// directory, created at its first byte.
type spillSink struct {
	r     *receiver
	first *msrp.Message
	mem   []byte
	text  bool
	f     *os.File
}

func (r *receiver) openSink(first *msrp.Message) (io.WriterAt, error) {
	return &spillSink{r: r, first: first, text: isText(first.ContentType)}, nil
}

func (s *spillSink) WriteAt(p []byte, off int64) (int, error) {
	end := off + int64(len(p))
	if s.f == nil && (!s.text || end > s.r.textMax) {
		if err := s.spill(); err != nil {
			return 0, err
		}
	}
	if s.f != nil {
		return s.f.WriteAt(p, off)
	}
	if int64(len(s.mem)) < end {
		s.mem = append(s.mem, make([]byte, end-int64(len(s.mem)))...)
	}
	copy(s.mem[off:], p)
	return len(p), nil
}

// spill creates the file, named after the Content-Disposition filename when it is
// harmless (RFC 5547), else after the Message-ID, never overwriting a file; it moves
// what was kept in memory there.
func (s *spillSink) spill() error {
	name := ""
	if cd, ok := s.first.Get("Content-Disposition"); ok {
		if _, params, err := mime.ParseMediaType(cd); err == nil {
			name = safeName(params["filename"])
		}
	}
	if name == "" {
		name = "msrp-" + s.first.MessageID
	}
	f, err := os.OpenFile(filepath.Join(s.r.dir, name), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, os.ErrExist) {
		f, err = os.OpenFile(filepath.Join(s.r.dir, s.first.MessageID+"-"+name), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	}
	if err != nil {
		return err
	}
	if _, err := f.WriteAt(s.mem, 0); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	s.f, s.mem = f, nil
	return nil
}

// safeName keeps the base name of a proposed file name if it is harmless.
func safeName(s string) string {
	s = filepath.Base(strings.ReplaceAll(s, "\\", "/"))
	if s == "." || s == "/" || s == ".." || strings.HasPrefix(s, ".") || len(s) > 200 {
		return ""
	}
	for _, c := range s {
		if c < 0x20 || c == 0x7f || c == '/' || c == ':' {
			return ""
		}
	}
	return s
}

func (r *receiver) onMessage(m *endpoint.Incoming) {
	s, _ := m.Sink.(*spillSink)
	switch {
	case s == nil:
		// Refused before a sink was opened (--max-size).
		r.out.printf("failed %s %v", m.MessageID, m.Err)
	case m.Err != nil:
		if s.f != nil {
			s.f.Close()
			os.Remove(s.f.Name())
		}
		r.out.printf("failed %s %v", m.MessageID, m.Err)
	case s.f == nil && s.text:
		r.out.printf("message %s %s %s", sender(m), m.ContentType, printable(s.mem[:m.Size]))
	default:
		err := error(nil)
		if s.f == nil {
			err = s.spill() // an empty non-text message
		}
		h := sha256.New()
		if err == nil {
			if err = s.f.Truncate(m.Size); err == nil {
				_, err = io.Copy(h, io.NewSectionReader(s.f, 0, m.Size))
			}
			if cerr := s.f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			r.out.printf("failed %s %v", m.MessageID, err)
		} else {
			r.out.printf("file %s %d sha256=%s", s.f.Name(), m.Size, hex.EncodeToString(h.Sum(nil)))
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.received++
	if r.count > 0 && r.received == r.count {
		close(r.done)
	}
}

func sender(m *endpoint.Incoming) string {
	if len(m.FromPath) == 0 {
		return "-"
	}
	return m.FromPath[len(m.FromPath)-1].String()
}

// printable returns text as is when it is valid UTF-8 without control characters other
// than tab, and Go-quoted otherwise, so that every message stays on one line.
func printable(b []byte) string {
	s := string(b)
	if !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }) || strings.HasPrefix(s, `"`) {
		return strconv.Quote(s)
	}
	return s
}

func send(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlagSet("send")
	toPathFlag := fs.String("to-path", "", "the peer's path: MSRP URIs separated by spaces")
	file := fs.String("file", "", "send this file")
	ctype := fs.String("content-type", "", "Content-Type (default text/plain, or from the file's extension)")
	relayFlag := fs.String("relay", "", "relay URI to AUTH with (RFC 4976); its Use-Path is put in front of --to-path")
	user := fs.String("user", "", "user name for AUTH")
	password := fs.String("password", "", "password for AUTH")
	expires := fs.Int("expires", 0, "Expires asked for in AUTH, seconds (0: the relay's default)")
	via := fs.String("via", "", "connect here: ws://, wss://, tcp://, tls:// (default: the relay, else the first --to-path URI)")
	chunk := fs.Int("chunk", endpoint.DefaultChunkSize, "largest chunk body, bytes")
	window := fs.Int("window", endpoint.DefaultWindow, "chunks awaiting their 200 at once")
	successReport := fs.Bool("success-report", false, "ask for a success REPORT and wait for it")
	failureReport := fs.String("failure-report", "yes", "Failure-Report: yes, partial or no")
	insecure := fs.Bool("insecure-skip-verify", false, "do not verify TLS certificates")
	caFile := fs.String("ca", "", "trust the certificates in this PEM file")
	origin := fs.String("origin", "", "Origin header of the WebSocket handshake")
	timeout := fs.Duration("timeout", 10*time.Minute, "give up after this long")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}

	if *toPathFlag == "" {
		return usagef("--to-path is required")
	}
	toPath, err := msrp.ParsePath(*toPathFlag)
	if err != nil {
		return usagef("--to-path: %v", err)
	}
	text := strings.Join(pos, " ")
	switch {
	case *file != "" && len(pos) > 0:
		return usagef("give --file or text, not both")
	case *file == "" && len(pos) == 0:
		return usagef("nothing to send: give --file or text")
	}
	if *chunk <= 0 {
		return usagef("--chunk must be positive")
	}
	if *window <= 0 {
		return usagef("--window must be positive")
	}
	switch *failureReport {
	case "yes", "partial", "no":
	default:
		return usagef("--failure-report must be yes, partial or no")
	}
	var relay msrp.URI
	if *relayFlag != "" {
		if relay, err = msrp.ParseURI(*relayFlag); err != nil {
			return usagef("--relay: %v", err)
		}
		if *user == "" {
			return usagef("--relay needs --user")
		}
	} else if *user != "" || *password != "" {
		return usagef("--user and --password need --relay")
	}
	target := *via
	switch {
	case target != "":
	case *relayFlag != "":
		if relay.IsWebSocket() {
			return usagef("--relay %s is a WebSocket URI, which is never dialled: give --via ws://host:port/path", relay)
		}
		target = relay.String()
	default:
		if toPath[0].IsWebSocket() {
			return usagef("--to-path starts with a WebSocket URI, which is never dialled: give --via")
		}
		target = toPath[0].String()
	}
	tlsConfig := &tls.Config{InsecureSkipVerify: *insecure, MinVersion: tls.VersionTLS12}
	if *caFile != "" {
		pem, err := os.ReadFile(*caFile)
		if err != nil {
			return usagef("--ca: %v", err)
		}
		tlsConfig.RootCAs = x509.NewCertPool()
		if !tlsConfig.RootCAs.AppendCertsFromPEM(pem) {
			return usagef("--ca %s holds no PEM certificate", *caFile)
		}
	}

	var body io.Reader
	var size int64
	var fields []msrp.Field
	if *file != "" {
		f, err := os.Open(*file)
		if err != nil {
			return usagef("--file: %v", err)
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			return usagef("--file: %v", err)
		}
		if !st.Mode().IsRegular() {
			return usagef("--file %s is not a regular file", *file)
		}
		body, size = f, st.Size()
		if *ctype == "" {
			*ctype = mime.TypeByExtension(filepath.Ext(*file))
		}
		if *ctype == "" {
			*ctype = "application/octet-stream"
		}
		fields = []msrp.Field{{Name: "Content-Disposition", Value: mime.FormatMediaType("attachment", map[string]string{"filename": filepath.Base(*file)})}}
	} else {
		body, size = strings.NewReader(text), int64(len(text))
		if *ctype == "" {
			*ctype = "text/plain"
		}
	}

	if *timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *timeout)
		defer cancel()
	}
	opts := endpoint.Options{TLSConfig: tlsConfig}
	if *origin != "" {
		opts.HTTPHeader = map[string][]string{"Origin": {*origin}}
	}
	c, err := endpoint.Dial(ctx, target, opts)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", target, err)
	}
	defer c.Close()
	s := c.NewSession(nil)
	if *relayFlag != "" {
		ar, err := c.Auth(ctx, s.Local, []msrp.URI{relay}, *user, *password, *expires)
		if err != nil {
			return fmt.Errorf("AUTH to %s: %w", relay, err)
		}
		toPath = append(ar.UsePath, toPath...)
	}
	s.ToPath = toPath

	h := sha256.New()
	res, err := c.Send(ctx, s, *ctype, io.TeeReader(body, h), size, endpoint.SendOptions{
		ChunkSize: *chunk, Window: *window, SuccessReport: *successReport, FailureReport: *failureReport,
		Fields: fields,
	})
	if err != nil {
		sent := int64(0)
		if res != nil {
			sent = res.Bytes
		}
		return fmt.Errorf("send failed after %d of %d bytes: %w", sent, size, err)
	}
	out := &lineWriter{w: stdout}
	out.printf("sent %d sha256=%s", res.Bytes, hex.EncodeToString(h.Sum(nil)))
	outcome := "200 OK" // every chunk answered 200
	if *failureReport != "yes" {
		outcome = "written" // Failure-Report partial or no: no 200 comes back
	}
	line := fmt.Sprintf("result %s message-id=%s transactions=%d", outcome, res.MessageID, res.Transactions)
	if res.Reported {
		line += " success-report=200"
	}
	out.printf("%s", line)
	return nil
}
