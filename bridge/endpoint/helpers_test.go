package endpoint

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"io"
	"math/big"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/simplegw/simplegw/bridge/msrp"
)

// testCtx bounds a test's network waits so that a bug fails the test instead of hanging it.
func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// inbox collects the messages a listener or connection delivers.
type inbox struct {
	ch chan *Incoming
}

func newInbox() *inbox { return &inbox{ch: make(chan *Incoming, 64)} }

func (b *inbox) deliver(m *Incoming) { b.ch <- m }

func (b *inbox) next(t *testing.T, ctx context.Context) *Incoming {
	t.Helper()
	select {
	case m := <-b.ch:
		return m
	case <-ctx.Done():
		t.Fatal("no message delivered")
		return nil
	}
}

// fileSinks opens one temporary file per incoming message.
type fileSinks struct {
	dir   string
	mu    sync.Mutex
	files []*os.File
}

func (f *fileSinks) open(first *msrp.Message) (io.WriterAt, error) {
	file, err := os.CreateTemp(f.dir, "in-*")
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.files = append(f.files, file)
	f.mu.Unlock()
	return file, nil
}

// sumOf returns the SHA-256 of a delivered message: its in-memory body or its file.
func sumOf(t *testing.T, m *Incoming) string {
	t.Helper()
	h := sha256.New()
	if m.Sink == nil {
		h.Write(m.Body)
	} else {
		f := m.Sink.(*os.File)
		if _, err := io.Copy(h, io.NewSectionReader(f, 0, m.Size)); err != nil {
			t.Fatal(err)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// pair is a listener with one session and a dialed connection with a session toward it.
type pair struct {
	l      *Listener
	ls     *Session // the listener's session
	c      *Conn
	cs     *Session // the dialer's session, To-Path = ls.Local
	lin    *inbox   // messages the listener receives
	cin    *inbox   // messages the dialer receives
	target string
}

func newPair(t *testing.T, lopts, copts Options) *pair {
	t.Helper()
	p := &pair{lin: newInbox(), cin: newInbox()}
	if lopts.OnMessage == nil {
		lopts.OnMessage = p.lin.deliver
	}
	if copts.OnMessage == nil {
		copts.OnMessage = p.cin.deliver
	}
	l, err := Listen("127.0.0.1:0", lopts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	p.l = l
	p.ls = l.NewSession(nil)
	scheme := "tcp://"
	if lopts.TLSConfig != nil {
		scheme = "tls://"
	}
	p.target = scheme + l.Addr().String()
	c, err := Dial(testCtx(t), p.target, copts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	p.c = c
	p.cs = c.NewSession([]msrp.URI{p.ls.Local})
	return p
}

// selfSigned returns a server certificate for 127.0.0.1 and a pool that trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:     []string{"localhost"},
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}, pool
}

// rawPeer is a hand-driven MSRP peer on a plain socket, for feeding exact bytes.
type rawPeer struct {
	t  *testing.T
	nc net.Conn
	r  *msrp.Reader
}

func dialRaw(t *testing.T, addr string) *rawPeer {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(60 * time.Second))
	return &rawPeer{t: t, nc: nc, r: msrp.NewReader(nc, 0, 0)}
}

func (p *rawPeer) write(b []byte) {
	p.t.Helper()
	if _, err := p.nc.Write(b); err != nil {
		p.t.Fatal(err)
	}
}

func (p *rawPeer) send(m *msrp.Message) { p.t.Helper(); p.write(m.Bytes()) }

// read returns the next whole message (body gathered).
func (p *rawPeer) read() *msrp.Message {
	p.t.Helper()
	var body bytes.Buffer
	for {
		part, err := p.r.Next()
		if err != nil {
			p.t.Fatalf("read: %v", err)
		}
		body.Write(part.Body)
		if part.Final {
			m := part.Message
			if body.Len() > 0 {
				m.Body = body.Bytes()
			}
			return m
		}
	}
}

func mustURI(t testing.TB, s string) msrp.URI {
	t.Helper()
	u, err := msrp.ParseURI(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
