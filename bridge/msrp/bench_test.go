package msrp

import (
	"bytes"
	"strings"
	"testing"
)

// The benchmarks measure the codec on what the relay's hot path does for every chunk: parse a
// SEND (or its 200), stream one from TCP, and write the forwarded SEND and the 200 back.

const (
	benchToPath   = "msrp://relay.example.com:2855/jui787s2f;tcp msrp://bob.example.com:8888/9di4eae923wzd;tcp"
	benchFromPath = "msrp://alicepc.example.com:7777/iau39soe2843z;tcp"
)

// benchSend returns a SEND as a client sends it to its relay: To-Path with two URIs, From-Path
// with one, Message-ID, Byte-Range, Failure-Report, Content-Type and a body of n bytes.
func benchSend(tid string, n int) []byte {
	body := strings.Repeat("0123456789abcdef", n/16+1)[:n]
	return []byte("MSRP " + tid + " SEND\r\n" +
		"To-Path: " + benchToPath + "\r\n" +
		"From-Path: " + benchFromPath + "\r\n" +
		"Message-ID: 87652491\r\n" +
		"Byte-Range: 1-" + itoa(n) + "/" + itoa(n) + "\r\n" +
		"Failure-Report: yes\r\n" +
		"Content-Type: text/plain\r\n" +
		"\r\n" + body + "\r\n" +
		"-------" + tid + "$\r\n")
}

func itoa(n int) string { return string(appendOrStar(nil, int64(n))) }

var bench200 = []byte("MSRP a786hjs2 200 OK\r\n" +
	"To-Path: " + benchFromPath + "\r\n" +
	"From-Path: msrp://relay.example.com:2855/jui787s2f;tcp\r\n" +
	"-------a786hjs2$\r\n")

func BenchmarkParseSend1K(b *testing.B) {
	raw := benchSend("a786hjs2", 1024)
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		m, err := Parse(raw)
		if err != nil || len(m.Body) != 1024 {
			b.Fatal(err)
		}
	}
}

func BenchmarkParse200(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(bench200)))
	for b.Loop() {
		m, err := Parse(bench200)
		if err != nil || m.Code != 200 {
			b.Fatal(err)
		}
	}
}

// cycleReader returns the bytes of buf over and over, in reads of at most max bytes (as a TCP
// socket hands them out).
type cycleReader struct {
	buf []byte
	off int
	max int
}

func (c *cycleReader) Read(p []byte) (int, error) {
	if len(p) > c.max {
		p = p[:c.max]
	}
	n := copy(p, c.buf[c.off:])
	c.off = (c.off + n) % len(c.buf)
	return n, nil
}

func benchReader(b *testing.B, size int) {
	var stream []byte
	for _, tid := range []string{"a786hjs2", "b786hjs3", "c786hjs4", "d786hjs5"} {
		stream = append(stream, benchSend(tid, size)...)
	}
	r := NewReader(&cycleReader{buf: stream, max: 32 << 10}, 0, 0)
	b.ReportAllocs()
	b.SetBytes(int64(len(stream) / 4))
	for b.Loop() {
		for {
			p, err := r.Next()
			if err != nil {
				b.Fatal(err)
			}
			if p.Final {
				break
			}
		}
	}
}

func BenchmarkReaderSend1K(b *testing.B)  { benchReader(b, 1<<10) }
func BenchmarkReaderSend64K(b *testing.B) { benchReader(b, 64<<10) }

// relaySend is the SEND as the relay forwards it (RFC 4976 §6.4): the rest of the To-Path, and
// a From-Path that starts with the relay's own URI, built rather than parsed.
func relaySend(b *testing.B) (*Message, []byte) {
	in, err := Parse(benchSend("a786hjs2", 1024))
	if err != nil {
		b.Fatal(err)
	}
	self := URI{Host: "relay.example.com", Port: 2855, SessionID: "jui787s2f", Transport: "tcp"}
	out := &Message{TransactionID: "Xk3j9s0dk2lq8dj1", Method: in.Method, ToPath: in.ToPath[1:],
		FromPath: append([]URI{self}, in.FromPath...), MessageID: in.MessageID, ByteRange: in.ByteRange,
		FailureReport: in.FailureReport, ContentType: in.ContentType, HasBody: true}
	return out, in.Body
}

func BenchmarkAppendSend(b *testing.B) {
	m, body := relaySend(b)
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		buf = m.AppendHead(buf[:0])
		buf = append(buf, body...)
		buf = AppendEndLine(buf, m.TransactionID, FlagEnd, true)
	}
	b.SetBytes(int64(len(buf)))
	if _, err := Parse(buf); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkAppend200(b *testing.B) {
	in, _ := relaySend(b)
	m := NewResponse(in, 200, "", in.FromPath[0])
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		buf = m.AppendHead(buf[:0])
		buf = AppendEndLine(buf, m.TransactionID, FlagEnd, false)
	}
	b.SetBytes(int64(len(buf)))
	if _, err := Parse(buf); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkRespond200 is what the relay does per SEND to answer it: build the 200 with its own
// URI as From-Path, and encode it.
func BenchmarkRespond200(b *testing.B) {
	in, err := Parse(benchSend("a786hjs2", 1024))
	if err != nil {
		b.Fatal(err)
	}
	self := URI{Host: "relay.example.com", Port: 2855, SessionID: "jui787s2f", Transport: "tcp"}
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		m := NewResponse(in, 200, "OK", self)
		buf = m.AppendHead(buf[:0])
		buf = AppendEndLine(buf, m.TransactionID, FlagEnd, false)
	}
}

func BenchmarkParseURI(b *testing.B) {
	const s = "msrp://bob.example.com:8888/9di4eae923wzd;tcp"
	b.ReportAllocs()
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		if _, err := ParseURI(s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParsePath(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchToPath)))
	for b.Loop() {
		if p, err := ParsePath(benchToPath); err != nil || len(p) != 2 {
			b.Fatal(err)
		}
	}
}

func BenchmarkURIString(b *testing.B) {
	u := URI{Secure: true, Host: "relay.example.com", Port: 2855, SessionID: "jui787s2f", Transport: "tcp"}
	b.ReportAllocs()
	for b.Loop() {
		if s := u.String(); len(s) == 0 {
			b.Fatal(s)
		}
	}
}

func BenchmarkNewTransactionID1K(b *testing.B) {
	body := bytes.Repeat([]byte("0123456789abcde-"), 64)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if tid := NewTransactionID(body); len(tid) != 16 {
			b.Fatal(tid)
		}
	}
}

func BenchmarkNewIdent(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if id := NewIdent(); len(id) != 16 {
			b.Fatal(id)
		}
	}
}
