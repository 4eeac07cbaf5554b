package sipua

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
)

const (
	// maxMessage bounds a SIP message read from the network: the largest UDP datagram,
	// and the same bound for a message on a stream.
	maxMessage = 65535
	// writeTimeout bounds one write to a stream; a proxy that accepts nothing for that
	// long is taken as gone.
	writeTimeout = 30 * time.Second
)

// transport carries SIP messages between the UA and its proxy (RFC 3261 §18).
//
// send may be called from any goroutine; run is called once, on the reading
// goroutine, and returns when the transport fails or is closed.
type transport interface {
	// send writes one encoded message. For UDP, to is the datagram's destination (nil:
	// the proxy); streams have one peer and ignore it.
	send(b []byte, to net.Addr) error
	// local is the address the UA's Via and Contact name.
	local() (host string, port int)
	// network is "UDP", "TCP" or "TLS", as written in a Via.
	network() string
	// run reads messages and hands each to deliver with its source address.
	run(p *sip.Parser, deliver func(sip.Message, net.Addr)) error
	close() error
}

// dialTransport opens the UA's socket toward proxy ("host:port").
func dialTransport(ctx context.Context, network, proxy, localAddr string, tlsConfig *tls.Config) (transport, error) {
	switch network {
	case "UDP":
		raddr, err := net.ResolveUDPAddr("udp", proxy)
		if err != nil {
			return nil, fmt.Errorf("sipua: proxy %q: %w", proxy, err)
		}
		if localAddr == "" {
			localAddr = net.JoinHostPort(localIPToward(raddr).String(), "0")
		}
		laddr, err := net.ResolveUDPAddr("udp", localAddr)
		if err != nil {
			return nil, fmt.Errorf("sipua: local address %q: %w", localAddr, err)
		}
		pc, err := net.ListenUDP("udp", laddr)
		if err != nil {
			return nil, err
		}
		return &udpTransport{pc: pc, proxy: raddr}, nil
	case "TCP", "TLS":
		d := net.Dialer{}
		if localAddr != "" {
			la, err := net.ResolveTCPAddr("tcp", localAddr)
			if err != nil {
				return nil, fmt.Errorf("sipua: local address %q: %w", localAddr, err)
			}
			d.LocalAddr = la
		}
		c, err := d.DialContext(ctx, "tcp", proxy)
		if err != nil {
			return nil, err
		}
		if network == "TLS" {
			cfg := &tls.Config{MinVersion: tls.VersionTLS12}
			if tlsConfig != nil {
				cfg = tlsConfig.Clone()
			}
			if cfg.ServerName == "" && !cfg.InsecureSkipVerify {
				host, _, _ := net.SplitHostPort(proxy)
				cfg.ServerName = host
			}
			tc := tls.Client(c, cfg)
			if err := tc.HandshakeContext(ctx); err != nil {
				c.Close()
				return nil, err
			}
			c = tc
		}
		return &streamTransport{c: c, name: network}, nil
	}
	return nil, fmt.Errorf("sipua: transport %q: use udp, tcp or tls", network)
}

// localIPToward returns the local address the system would send from toward raddr
// (connecting a UDP socket sends nothing).
func localIPToward(raddr *net.UDPAddr) net.IP {
	c, err := net.DialUDP("udp", nil, raddr)
	if err != nil {
		return net.IPv4(127, 0, 0, 1)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).IP
}

func splitAddr(a net.Addr) (string, int) {
	switch a := a.(type) {
	case *net.UDPAddr:
		return a.IP.String(), a.Port
	case *net.TCPAddr:
		return a.IP.String(), a.Port
	}
	return "127.0.0.1", 0
}

// udpTransport is one UDP socket; requests go to the proxy, responses to the source of
// their request (RFC 3261 §18.2.2, RFC 3581 §4).
type udpTransport struct {
	pc    *net.UDPConn
	proxy *net.UDPAddr
}

func (t *udpTransport) send(b []byte, to net.Addr) error {
	if to == nil {
		to = t.proxy
	}
	_, err := t.pc.WriteTo(b, to)
	return err
}

func (t *udpTransport) local() (string, int) { return splitAddr(t.pc.LocalAddr()) }
func (t *udpTransport) network() string      { return "UDP" }
func (t *udpTransport) close() error         { return t.pc.Close() }

func (t *udpTransport) run(p *sip.Parser, deliver func(sip.Message, net.Addr)) error {
	buf := make([]byte, maxMessage+1)
	for {
		n, addr, err := t.pc.ReadFromUDP(buf)
		if err != nil {
			return err
		}
		data := bytes.Trim(buf[:n], "\r\n")
		if len(data) == 0 || n > maxMessage {
			continue // a keepalive, or too large to be ours
		}
		msg, err := p.ParseSIP(bytes.Clone(buf[:n]))
		if err != nil {
			continue // RFC 3261 §18.3: a malformed datagram is discarded
		}
		msg.SetSource(addr.String())
		deliver(msg, addr)
	}
}

// streamTransport is one TCP or TLS connection to the proxy; everything, requests from
// the proxy included, travels over it (the proxy's registrar binds our address-of-record
// to this connection).
type streamTransport struct {
	c    net.Conn
	name string
	wmu  sync.Mutex // serialises writes
}

func (t *streamTransport) send(b []byte, _ net.Addr) error {
	t.wmu.Lock()
	defer t.wmu.Unlock()
	t.c.SetWriteDeadline(time.Now().Add(writeTimeout))
	_, err := t.c.Write(b)
	return err
}

func (t *streamTransport) local() (string, int) { return splitAddr(t.c.LocalAddr()) }
func (t *streamTransport) network() string      { return t.name }
func (t *streamTransport) close() error         { return t.c.Close() }

// run frames messages by Content-Length (RFC 3261 §18.3). CR and LF between messages are
// skipped; a double CRLF there is a keepalive ping answered with CRLF (RFC 5626 §4.4.1).
func (t *streamTransport) run(p *sip.Parser, deliver func(sip.Message, net.Addr)) error {
	ps := p.NewSIPStream()
	defer ps.Close()
	src := t.c.RemoteAddr()
	buf := make([]byte, 32<<10)
	atBoundary := true
	for {
		n, err := t.c.Read(buf)
		if err != nil {
			return err
		}
		data := buf[:n]
		if atBoundary {
			k := 0
			for k < len(data) && (data[k] == '\r' || data[k] == '\n') {
				k++
			}
			if strings.Contains(string(data[:k]), "\r\n\r\n") {
				t.send([]byte("\r\n"), nil)
			}
			if data = data[k:]; len(data) == 0 {
				continue
			}
		}
		err = ps.ParseSIPStream(data, func(m sip.Message) {
			m.SetSource(src.String())
			deliver(m, src)
		})
		switch {
		case err == nil:
			atBoundary = true
		case errors.Is(err, sip.ErrParseSipPartial):
			atBoundary = false
		default:
			// Without a boundary to resynchronise on, the stream is lost.
			return fmt.Errorf("sipua: %s stream: %w", t.name, err)
		}
	}
}
