package sipedge

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// selfSigned returns a certificate for 127.0.0.1 and a pool trusting it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "simplegw test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// SIP over TLS (RFC 3261 §26.2): a client registers over the edge's TLS
// listener and receives a browser's MESSAGE; the edge dials a TLS next hop
// named by transport=tls and verifies its certificate.
func TestTLS(t *testing.T) {
	cert, pool := selfSigned(t)
	tlsCfg := &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool}
	h := newHarness(t, func(c *Config) { c.TLSConfig = tlsCfg })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- h.e.ServeTLS(tls.NewListener(ln, tlsCfg)) }()
	t.Cleanup(func() {
		h.e.Close()
		if err := <-done; err != nil {
			t.Errorf("ServeTLS: %v", err)
		}
	})

	c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: pool})
	if err != nil {
		t.Fatal(err)
	}
	carol := h.streamPeer("carol", c)
	carol.register("carol", "carol-pw", 600)

	alice := h.dialWS("alice")
	alice.register("alice", "alice-pw", 600)
	m := alice.newRequest("MESSAGE", "sip:carol@localhost")
	m.Body = "over tls"
	alice.send(m.String())
	req := carol.expectRequest(sip.MESSAGE)
	if v := req.Via(); v.Transport != "TLS" || v.SentBy() != ln.Addr().String() {
		t.Fatalf("edge Via %s", v.Value())
	}
	carol.reply(req, 200, "OK", "c", nil, "")
	alice.expectResponse(200)

	// A TLS user agent reached by its URI.
	uasLn, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	defer uasLn.Close()
	uas := make(chan *peer, 1)
	go func() {
		c, err := uasLn.Accept()
		if err != nil {
			return
		}
		uas <- h.streamPeer("uas", c)
	}()
	m = alice.newRequest("MESSAGE", "sip:uas@"+uasLn.Addr().String()+";transport=tls")
	m.Body = "to a tls uas"
	alice.send(m.String())
	var u *peer
	select {
	case u = <-uas:
	case <-time.After(waitFor):
		t.Fatal("edge did not connect to the TLS user agent")
	}
	req = u.expectRequest(sip.MESSAGE)
	u.reply(req, 200, "OK", "u", nil, "")
	alice.expectResponse(200)

	// A next hop whose certificate does not verify: the branch fails (503,
	// sent upstream as 500, RFC 3261 §16.9 and §16.7 step 6).
	bad, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{func() tls.Certificate { c, _ := selfSigned(t); return c }()}})
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	go func() {
		c, err := bad.Accept()
		if err == nil {
			c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	m = alice.newRequest("MESSAGE", "sip:x@"+bad.Addr().String()+";transport=tls")
	alice.send(m.String())
	alice.expectResponse(500)
}
