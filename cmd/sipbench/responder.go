package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"

	"github.com/emiago/sipgo/sip"
)

// runResponder is the baseline: a trivial SIP responder on UDP and TCP
// that answers every request (but ACK) with 200 itself, statelessly, using
// the same answer function as the WebSocket clients. It prints
// "responder ready udp=ADDR tcp=ADDR" and serves until killed.
func runResponder(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("responder", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:0", "host:port for UDP and TCP (port 0: each picks one)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	pc, err := net.ListenPacket("udp", *listen)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if uc, ok := pc.(*net.UDPConn); ok {
		uc.SetReadBuffer(4 << 20)
		uc.SetWriteBuffer(4 << 20)
	}
	fmt.Fprintf(stdout, "responder ready udp=%s tcp=%s\n", pc.LocalAddr(), ln.Addr())
	err = serveResponder(pc, ln)
	fmt.Fprintln(stderr, err)
	return 1
}

// serveResponder answers on pc (on the caller's goroutine) and on ln's
// connections until pc fails; it closes ln then.
func serveResponder(pc net.PacketConn, ln net.Listener) error {
	go serveTCP(ln)
	defer ln.Close()
	buf := make([]byte, 65536)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return err
		}
		m, err := sip.ParseMessage(buf[:n])
		if err != nil {
			continue
		}
		if req, ok := m.(*sip.Request); ok && !req.IsAck() {
			pc.WriteTo(answer(req, from.String()), from)
		}
	}
}

func serveTCP(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			stream := sip.NewParser().NewSIPStream()
			buf := make([]byte, 65536)
			for {
				n, err := c.Read(buf)
				if err != nil {
					return
				}
				var werr error
				perr := stream.ParseSIPStream(buf[:n], func(m sip.Message) {
					if req, ok := m.(*sip.Request); ok && !req.IsAck() && werr == nil {
						_, werr = c.Write(answer(req, c.RemoteAddr().String()))
					}
				})
				if werr != nil || perr != nil && !errors.Is(perr, sip.ErrParseSipPartial) {
					return
				}
			}
		}()
	}
}
