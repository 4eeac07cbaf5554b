package msrp

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"testing/iotest"
)

func addRFCSeeds(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "rfc", "*.msrp"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n")))
	}
	f.Add([]byte("MSRP abcd SEND\r\nTo-Path: msrp://b:1/s;tcp\r\nFrom-Path: msrp://a:1/s;tcp\r\n-------abcd$\r\n"))
	f.Add([]byte("MSRP abcd SEND\r\nTo-Path: msrp://b:1/s;tcp\r\nFrom-Path: msrp://a:1/s;tcp\r\nContent-Type: a/b\r\n\r\n\r\n-------abcd+\r\n"))
}

// FuzzParse checks that the WebSocket front end never panics, and that whatever it accepts
// encodes to bytes it accepts again with the same content.
func FuzzParse(f *testing.F) {
	addRFCSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse(b)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) && !errors.Is(err, ErrFraming) {
				t.Fatalf("error of unknown kind: %v", err)
			}
			return
		}
		again, err := Parse(m.Bytes())
		if err != nil {
			t.Fatalf("re-encoded message rejected: %v\n%q", err, m.Bytes())
		}
		if !bytes.Equal(again.Body, m.Body) || again.TransactionID != m.TransactionID || again.Flag != m.Flag ||
			FormatPath(again.ToPath) != FormatPath(m.ToPath) || FormatPath(again.FromPath) != FormatPath(m.FromPath) {
			t.Fatalf("round trip changed the message:\n%q\n%q", b, m.Bytes())
		}
	})
}

// FuzzReader checks that the stream front end never panics, never hands out a piece larger
// than its limit, and reads the same bodies whether data arrives at once or byte by byte.
func FuzzReader(f *testing.F) {
	addRFCSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		whole := readAll(t, NewReader(bytes.NewReader(b), MaxNonSendBody, 0))
		slow := readAll(t, NewReader(iotest.OneByteReader(bytes.NewReader(b)), MaxNonSendBody, 0))
		if !bytes.Equal(whole, slow) {
			t.Fatalf("byte-by-byte read differs:\n%q\n%q", whole, slow)
		}
	})
}

func readAll(t *testing.T, r *Reader) []byte {
	var out []byte
	for i := 0; i < 10000; i++ {
		p, err := r.Next()
		if err != nil {
			var pe *ParseError
			if errors.As(err, &pe) {
				out = append(out, 'E')
				continue
			}
			if err != io.EOF && err != io.ErrUnexpectedEOF && !errors.Is(err, ErrFraming) {
				t.Fatalf("error of unknown kind: %v", err)
			}
			return out
		}
		if len(p.Body) > MaxNonSendBody {
			t.Fatalf("piece of %d bytes", len(p.Body))
		}
		out = append(out, p.Body...)
		if p.Final {
			out = append(out, '|', p.Message.Flag)
		}
	}
	t.Fatal("reader did not terminate")
	return nil
}

func FuzzParseURI(f *testing.F) {
	for _, s := range []string{"msrp://host.example.com:8493/asfd34;tcp", "msrps://alice@intra.example.com;tcp",
		"msrps://df7jal23ls0d.invalid:2855/98cjs;ws", "msrp://[::1]:2855/a;tcp;x=y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseURI(s)
		if err != nil {
			return
		}
		built := URI{Secure: u.Secure, User: u.User, Host: u.Host, Port: u.Port, SessionID: u.SessionID, Transport: u.Transport, Params: u.Params}
		back, err := ParseURI(built.String())
		if err != nil || !back.Equal(u) {
			t.Fatalf("%q rebuilt as %q: %v", s, built.String(), err)
		}
	})
}
