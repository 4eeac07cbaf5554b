package msrp

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
)

// rfcExample loads an example message transcribed from an RFC (LF line ends in the file,
// CRLF on the wire).
func rfcExample(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "rfc", name))
	if err != nil {
		t.Fatal(err)
	}
	return bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n"))
}

type want struct {
	tid, method string
	code        int
	comment     string
	to, from    []string
	messageID   string
	byteRange   string
	sr, fr      string
	status      string
	ctype       string
	body        string
	hasBody     bool
	flag        byte
	fields      map[string]string
}

var rfcExamples = []struct {
	file string
	want want
}{
	{"4975-11.1-send.msrp", want{
		tid: "d93kswow", method: "SEND",
		to:   []string{"msrp://bob.example.com:8888/9di4eae923wzd;tcp"},
		from: []string{"msrp://alicepc.example.com:7777/iau39soe2843z;tcp"}, messageID: "12339sdqwer",
		byteRange: "1-16/16", ctype: "text/plain", body: "Hi, I'm Alice!", hasBody: true, flag: '$'}},
	{"4975-11.1-200.msrp", want{
		tid: "d93kswow", code: 200, comment: "OK",
		to:   []string{"msrp://alicepc.example.com:7777/iau39soe2843z;tcp"},
		from: []string{"msrp://bob.example.com:8888/9di4eae923wzd;tcp"}, flag: '$'}},
	{"4975-11.2-xhtml.msrp", want{
		tid: "dsdfoe38sd", method: "SEND",
		to:   []string{"msrp://alice.example.com:7777/iau39soe2843z;tcp"},
		from: []string{"msrp://bob.example.com:8888/9di4eae923wzd;tcp"}, messageID: "456so39s",
		byteRange: "1-374/374", ctype: "application/xhtml+xml", hasBody: true, flag: '$',
		body: "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n<!DOCTYPE html"}},
	{"4975-11.4-chunk1.msrp", want{
		tid: "d93kswow", method: "SEND",
		to:   []string{"msrp://bobpc.example.com:8888/9di4eae923wzd;tcp"},
		from: []string{"msrp://alicepc.example.com:7654/iau39soe2843z;tcp"}, messageID: "12339sdqwer",
		byteRange: "1-137/148", ctype: "message/cpim", hasBody: true, flag: '+',
		body: "To: Bob <sip:bob@example.com>\r\nFrom: Alice <sip:alice@example.com>\r\nDateTime: 2006-05-15T15:02:31-03:00\r\nContent-Type: text/plain\r\n\r\nABCD"}},
	{"4975-11.4-chunk2.msrp", want{
		tid: "op2nc9a", method: "SEND",
		to:   []string{"msrp://bobpc.example.com:8888/9di4eae923wzd;tcp"},
		from: []string{"msrp://alicepc.example.com:7654/iau39soe2843z;tcp"}, messageID: "12339sdqwer",
		byteRange: "138-148/148", ctype: "message/cpim", body: "1234567890", hasBody: true, flag: '$'}},
	{"4975-11.5-system.msrp", want{
		tid: "d93kswow", method: "SEND",
		to:   []string{"msrp://alicepc.example.com:8888/9di4eae923wzd;tcp"},
		from: []string{"msrp://example.com:7777/iau39soe2843z;tcp"}, messageID: "12339sdqwer",
		byteRange: "1-38/38", sr: "no", fr: "no", ctype: "text/plain",
		body: "This conference will end in 5 minutes", hasBody: true, flag: '$'}},
	{"4975-11.6-report.msrp", want{
		tid: "dkei38sd", method: "REPORT",
		to:   []string{"msrp://alicepc.example.com:7777/iau39soe2843z;tcp"},
		from: []string{"msrp://bob.example.com:8888/9di4eae923wzd;tcp"}, messageID: "12339sdqwer",
		byteRange: "1-106/106", status: "000 200 OK", flag: '$'}},
	{"4976-5.1-auth-401.msrp", want{
		tid: "49fh", code: 401, comment: "Unauthorized",
		to:   []string{"msrps://alice.example.com:9892/98cjs;tcp"},
		from: []string{"msrps://alice@intra.example.com;tcp"}, flag: '$',
		fields: map[string]string{"WWW-Authenticate": `Digest realm="intra.example.com", qop="auth", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093"`}}},
	{"4976-5.1-auth-200.msrp", want{
		tid: "49fi", code: 200, comment: "OK",
		to:   []string{"msrps://alice.example.com:9892/98cjs;tcp"},
		from: []string{"msrps://alice@intra.example.com;tcp"}, flag: '$',
		fields: map[string]string{"Use-Path": "msrps://intra.example.com:9000/jui787s2f;tcp", "Expires": "900"}}},
	{"4976-5.1-auth-fwd.msrp", want{
		tid: "m2nbvw", method: "AUTH",
		to:   []string{"msrps://extra.example.com;tcp"},
		from: []string{"msrps://intra.example.com:9000/jui787s2f;tcp", "msrps://alice.example.com:9892/98cjs;tcp"}, flag: '$'}},
	{"7977-8.1.2-auth.msrp", want{
		tid: "qy1hsow5", method: "AUTH",
		to:   []string{"msrps://alice@a.example.com:443;ws"},
		from: []string{"msrps://df7jal23ls0d.invalid:2855/98cjs;ws"}, flag: '$',
		fields: map[string]string{"Authorization": `Digest username="alice", realm="example.com", nonce="UvtfpVL7XnnJ63EE244fXDthfLihlMHOY4+dd4A=", uri="msrps://alice@a.example.com:443;ws", response="5011d0d58fe975e0d0cdc007ae26f4b7", qop=auth, cnonce="zic5ml401prb", nc=00000001`}}},
	{"7977-8.3.2-send.msrp", want{
		tid: "kjh6", method: "SEND",
		to: []string{"msrps://a.example.com:2855/jui787s2f;tcp", "msrps://a.example.com:2855/iwnslt;tcp",
			"msrps://jk9awp14vj8x.invalid:2855/76qwe;ws"},
		from: []string{"msrps://df7jal23ls0d.invalid:2855/98cjs;ws"}, messageID: "87652", sr: "no",
		byteRange: "1-*/*", ctype: "text/plain", body: "Carol, I sent that file to Bob.", hasBody: true, flag: '$'}},
	{"7977-8.3.2-fwd.msrp", want{
		tid: "re58", method: "SEND",
		to: []string{"msrps://jk9awp14vj8x.invalid:2855/76qwe;ws"},
		from: []string{"msrps://a.example.com:2855/iwnslt;tcp", "msrps://a.example.com:2855/jui787s2f;tcp",
			"msrps://df7jal23ls0d.invalid/98cjs;ws"}, messageID: "87652", sr: "no",
		byteRange: "1-*/*", ctype: "text/plain", body: "Carol, I sent that file to Bob.", hasBody: true, flag: '$'}},
}

func checkMessage(t *testing.T, m *Message, body []byte, w want) {
	t.Helper()
	if m.TransactionID != w.tid || m.Method != w.method || m.Code != w.code || m.Comment != w.comment {
		t.Errorf("start line = %q %q %d %q, want %q %q %d %q", m.TransactionID, m.Method, m.Code, m.Comment, w.tid, w.method, w.code, w.comment)
	}
	if got := pathStrings(m.ToPath); strings.Join(got, " ") != strings.Join(w.to, " ") {
		t.Errorf("To-Path = %q, want %q", got, w.to)
	}
	if got := pathStrings(m.FromPath); strings.Join(got, " ") != strings.Join(w.from, " ") {
		t.Errorf("From-Path = %q, want %q", got, w.from)
	}
	if m.MessageID != w.messageID {
		t.Errorf("Message-ID = %q, want %q", m.MessageID, w.messageID)
	}
	br := ""
	if m.ByteRange != nil {
		br = m.ByteRange.String()
	}
	if br != w.byteRange {
		t.Errorf("Byte-Range = %q, want %q", br, w.byteRange)
	}
	if m.SuccessReport != w.sr || m.FailureReport != w.fr {
		t.Errorf("reports = %q/%q, want %q/%q", m.SuccessReport, m.FailureReport, w.sr, w.fr)
	}
	st := ""
	if m.Status != nil {
		st = string(appendPadded3(nil, m.Status.Namespace)) + " " + string(appendPadded3(nil, m.Status.Code)) + " " + m.Status.Comment
	}
	if st != w.status {
		t.Errorf("Status = %q, want %q", st, w.status)
	}
	if m.ContentType != w.ctype {
		t.Errorf("Content-Type = %q, want %q", m.ContentType, w.ctype)
	}
	if !bytes.HasPrefix(body, []byte(w.body)) || (w.body == "" && len(body) != 0) {
		t.Errorf("body = %q, want prefix %q", body, w.body)
	}
	if m.HasBody != w.hasBody {
		t.Errorf("HasBody = %v, want %v", m.HasBody, w.hasBody)
	}
	if m.Flag != w.flag {
		t.Errorf("flag = %q, want %q", m.Flag, w.flag)
	}
	for k, v := range w.fields {
		if got, ok := m.Get(k); !ok || got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
}

func pathStrings(p []URI) []string {
	var s []string
	for _, u := range p {
		s = append(s, u.String())
	}
	return s
}

func TestParseRFCExamples(t *testing.T) {
	for _, tc := range rfcExamples {
		t.Run(tc.file, func(t *testing.T) {
			raw := rfcExample(t, tc.file)
			m, err := Parse(raw)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			checkMessage(t, m, m.Body, tc.want)
			// Encoding what was parsed and parsing it again gives the same message (the
			// encoder writes headers in its own canonical order).
			again, err := Parse(m.Bytes())
			if err != nil {
				t.Fatalf("re-encoded message does not parse: %v\n%q", err, m.Bytes())
			}
			checkMessage(t, again, again.Body, tc.want)
			if !bytes.Equal(again.Body, m.Body) {
				t.Errorf("re-encoded body differs")
			}
		})
	}
}

// TestReaderRFCExamples feeds every example through one stream, one byte per read and with a
// small piece size, and checks that the parts reassemble to the same messages.
func TestReaderRFCExamples(t *testing.T) {
	var stream []byte
	for _, tc := range rfcExamples {
		stream = append(stream, rfcExample(t, tc.file)...)
	}
	for _, mode := range []string{"whole", "onebyte"} {
		t.Run(mode, func(t *testing.T) {
			var src io.Reader = bytes.NewReader(stream)
			if mode == "onebyte" {
				src = iotest.OneByteReader(src)
			}
			r := NewReader(src, 0, 0)
			for _, tc := range rfcExamples {
				var body []byte
				var m *Message
				for {
					p, err := r.Next()
					if err != nil {
						t.Fatalf("%s: %v", tc.file, err)
					}
					if m != nil && p.Message != m {
						t.Fatalf("%s: parts of one chunk carry different messages", tc.file)
					}
					m = p.Message
					if p.Offset != int64(len(body)) {
						t.Fatalf("%s: offset %d, want %d", tc.file, p.Offset, len(body))
					}
					body = append(body, p.Body...)
					if p.Final {
						break
					}
				}
				checkMessage(t, m, body, tc.want)
			}
			if _, err := r.Next(); err != io.EOF {
				t.Fatalf("after the last message: %v, want io.EOF", err)
			}
		})
	}
}

func TestReaderLargeChunkStreamsInPieces(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789abcdef"), 100000) // 1.6 MB
	m := &Message{TransactionID: "big1", Method: MethodSEND,
		ToPath:    []URI{mustURI(t, "msrp://b.example:2855/s1;tcp")},
		FromPath:  []URI{mustURI(t, "msrp://a.example:2855/s2;tcp")},
		MessageID: "msg1", ByteRange: &ByteRange{1, int64(len(body)), int64(len(body))},
		ContentType: "application/octet-stream", Body: body, Flag: FlagEnd}
	next := &Message{TransactionID: "small2", Method: MethodSEND, ToPath: m.ToPath, FromPath: m.FromPath,
		MessageID: "msg2", ContentType: "text/plain", Body: []byte("after"), Flag: FlagEnd}
	stream := append(m.Bytes(), next.Bytes()...)
	const piece = 16 << 10
	r := NewReader(bytes.NewReader(stream), piece, 0)
	var got []byte
	parts := 0
	for {
		p, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Body) > piece || len(p.Body) == 0 {
			t.Fatalf("piece of %d bytes (limit %d)", len(p.Body), piece)
		}
		got = append(got, p.Body...)
		parts++
		if p.Final {
			break
		}
	}
	if !bytes.Equal(got, body) {
		t.Fatalf("reassembled body differs (%d vs %d bytes)", len(got), len(body))
	}
	if parts < len(body)/piece {
		t.Fatalf("only %d parts", parts)
	}
	p, err := r.Next()
	if err != nil || string(p.Body) != "after" || p.Message.MessageID != "msg2" {
		t.Fatalf("next message: %v %q", err, p.Body)
	}
}

// A body that contains the end-line's prefix without a flag, or with a flag but no CRLF, is
// body, not the end.
func TestReaderNearMissEndLine(t *testing.T) {
	body := "x\r\n-------abcd\r\n-------abcdX\r\n-------abcd$y"
	raw := "MSRP abcd SEND\r\nTo-Path: msrp://b:1/s;tcp\r\nFrom-Path: msrp://a:1/s;tcp\r\nContent-Type: text/plain\r\n\r\n" +
		body + "\r\n-------abcd$\r\n"
	for _, one := range []bool{false, true} {
		var src io.Reader = strings.NewReader(raw)
		if one {
			src = iotest.OneByteReader(src)
		}
		r := NewReader(src, 0, 0)
		var got []byte
		for {
			p, err := r.Next()
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, p.Body...)
			if p.Final {
				break
			}
		}
		if string(got) != body {
			t.Fatalf("body = %q, want %q", got, body)
		}
	}
	m, err := Parse([]byte(raw))
	if err != nil || string(m.Body) != body {
		t.Fatalf("Parse: %v %q", err, m.Body)
	}
}

func TestReaderRecoversAfterBadMessage(t *testing.T) {
	bad := "MSRP tid1 SEND\r\nTo-Path: msrp://b:1/s;tcp\r\nFrom-Path: nonsense\r\nContent-Type: text/plain\r\n\r\nbody\r\n-------tid1$\r\n"
	badMethod := "MSRP tid2 send\r\nTo-Path: msrp://b:1/s;tcp\r\nFrom-Path: msrp://a:1/s;tcp\r\n-------tid2$\r\n"
	good := "MSRP tid3 SEND\r\nTo-Path: msrp://b:1/s;tcp\r\nFrom-Path: msrp://a:1/s;tcp\r\nContent-Type: text/plain\r\n\r\nok\r\n-------tid3$\r\n"
	r := NewReader(strings.NewReader(bad+badMethod+good), 0, 0)
	for _, tid := range []string{"tid1", "tid2"} {
		_, err := r.Next()
		var pe *ParseError
		if !errors.As(err, &pe) || pe.TransactionID != tid || pe.Code != 400 {
			t.Fatalf("want ParseError for %s, got %v", tid, err)
		}
	}
	p, err := r.Next()
	if err != nil || p.Message.TransactionID != "tid3" || string(p.Body) != "ok" {
		t.Fatalf("after errors: %v %+v", err, p)
	}
}

func TestReaderOversizeNonSendBody(t *testing.T) {
	big := strings.Repeat("z", MaxNonSendBody+1)
	raw := "MSRP tid1 NICKNAME\r\nTo-Path: msrp://b:1/s;tcp\r\nFrom-Path: msrp://a:1/s;tcp\r\nContent-Type: text/plain\r\n\r\n" + big + "\r\n-------tid1$\r\n" +
		"MSRP tid2 NICKNAME\r\nTo-Path: msrp://b:1/s;tcp\r\nFrom-Path: msrp://a:1/s;tcp\r\nUse-Nickname: \"bob\"\r\n-------tid2$\r\n"
	r := NewReader(strings.NewReader(raw), 0, 0)
	_, err := r.Next()
	var pe *ParseError
	if !errors.As(err, &pe) || pe.Code != 413 || pe.Method != "NICKNAME" {
		t.Fatalf("want 413 ParseError, got %v", err)
	}
	p, err := r.Next()
	if err != nil || p.Message.TransactionID != "tid2" || p.Message.Method != "NICKNAME" {
		t.Fatalf("after 413: %v", err)
	}
	if v, _ := p.Message.Get("Use-Nickname"); v != `"bob"` {
		t.Fatalf("Use-Nickname = %q", v)
	}
	if _, err := Parse([]byte(raw[:strings.Index(raw, "MSRP tid2")])); !errors.As(err, &pe) || pe.Code != 413 {
		t.Fatalf("Parse: want 413, got %v", err)
	}
}

func TestReaderFramingErrors(t *testing.T) {
	cases := map[string]string{
		"not msrp":       "GET / HTTP/1.1\r\n\r\n",
		"short tid":      "MSRP ab SEND\r\n",
		"bare LF":        "MSRP abcd SEND\n",
		"huge header":    "MSRP abcd SEND\r\nX-A: " + strings.Repeat("a", DefaultMaxHeaderBytes) + "\r\n",
		"eof in body":    "MSRP abcd SEND\r\nTo-Path: msrp://b:1/s;tcp\r\nFrom-Path: msrp://a:1/s;tcp\r\nContent-Type: a/b\r\n\r\nxx",
		"eof in headers": "MSRP abcd SEND\r\nTo-Path: msrp://b:1/s;tcp\r\n",
	}
	for name, raw := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := NewReader(strings.NewReader(raw), 0, 0).Next()
			if err == nil {
				t.Fatal("no error")
			}
			var pe *ParseError
			if errors.As(err, &pe) {
				t.Fatalf("got recoverable %v, want a stream-ending error", err)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	head := "MSRP abcd SEND\r\nTo-Path: msrp://b:1/s;tcp\r\nFrom-Path: msrp://a:1/s;tcp\r\n"
	cases := map[string]struct {
		raw  string
		code int // 0: framing error
	}{
		"empty":                {"", 0},
		"no paths":             {"MSRP abcd SEND\r\n-------abcd$\r\n", 400},
		"bad uri":              {"MSRP abcd SEND\r\nTo-Path: http://x/;tcp\r\nFrom-Path: msrp://a:1/s;tcp\r\n-------abcd$\r\n", 400},
		"body without type":    {head + "\r\nhello\r\n-------abcd$\r\n", 400},
		"type without body":    {head + "Content-Type: text/plain\r\n-------abcd$\r\n", 400},
		"missing end-line":     {head + "Content-Type: text/plain\r\n\r\nhello", 400},
		"wrong tid":            {head + "Content-Type: text/plain\r\n\r\nhello\r\n-------abce$\r\n", 400},
		"trailing junk":        {head + "-------abcd$\r\nMSRP", 400},
		"bad byte-range":       {head + "Byte-Range: 5-2/9\r\n-------abcd$\r\n", 400},
		"bad failure-report":   {head + "Failure-Report: maybe\r\n-------abcd$\r\n", 400},
		"response with +":      {"MSRP abcd 200 OK\r\nTo-Path: msrp://b:1/s;tcp\r\nFrom-Path: msrp://a:1/s;tcp\r\n-------abcd+\r\n", 400},
		"bad status":           {head + "Status: 0 200\r\n-------abcd$\r\n", 400},
		"header without colon": {head + "Oops\r\n-------abcd$\r\n", 400},
		"control char":         {head + "X-A: a\x00b\r\n-------abcd$\r\n", 400},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(tc.raw))
			var pe *ParseError
			switch {
			case err == nil:
				t.Fatal("no error")
			case tc.code == 0 && !errors.Is(err, ErrFraming):
				t.Fatalf("got %v, want a framing error", err)
			case tc.code != 0 && (!errors.As(err, &pe) || pe.Code != tc.code || pe.TransactionID != "abcd"):
				t.Fatalf("got %v, want ParseError %d for abcd", err, tc.code)
			}
		})
	}
}

func TestParseTolerances(t *testing.T) {
	head := "MSRP abcd SEND\r\nto-path: msrp://b:1/s;tcp\r\nFROM-PATH:  msrp://a:1/s;tcp\r\n"
	// Header names are case-insensitive; an empty body written without its CRLF; a final
	// end-line without CRLF (WebSocket).
	for _, raw := range []string{
		head + "Content-Type: text/plain\r\n\r\n-------abcd$\r\n",
		head + "Content-Type: text/plain\r\n\r\n\r\n-------abcd$",
	} {
		m, err := Parse([]byte(raw))
		if err != nil {
			t.Fatalf("%q: %v", raw, err)
		}
		if !m.HasBody || len(m.Body) != 0 || m.ToPath[0].Host != "b" {
			t.Fatalf("%q: got %+v", raw, m)
		}
	}
	// A bodiless SEND (keepalive, RFC 7977 §6).
	m, err := Parse([]byte(head + "-------abcd$\r\n"))
	if err != nil || m.HasBody || m.Body != nil {
		t.Fatalf("bodiless: %v %+v", err, m)
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	m := &Message{
		TransactionID: NewTransactionID(nil), Method: MethodREPORT,
		ToPath:    []URI{mustURI(t, "msrp://a.example:7777/x1;tcp")},
		FromPath:  []URI{mustURI(t, "msrps://[::1]:2855/abc;tcp"), mustURI(t, "msrp://h.invalid/s;ws")},
		MessageID: "m0001", ByteRange: &ByteRange{1, Unknown, Unknown},
		Status: &Status{0, 413, "Too big"}, Fields: []Field{{"Use-Nickname", `"x"`}},
	}
	got, err := Parse(m.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if got.Status.Code != 413 || got.Status.Comment != "Too big" || got.ByteRange.End != Unknown ||
		got.FromPath[0].Host != "::1" || !got.FromPath[1].IsWebSocket() || got.Flag != FlagEnd {
		t.Fatalf("round trip: %+v", got)
	}
	if !bytes.Equal(got.Bytes(), m.Bytes()) {
		t.Fatalf("round trip bytes differ:\n%q\n%q", got.Bytes(), m.Bytes())
	}
}

func TestNewResponse(t *testing.T) {
	req, err := Parse(rfcExample(t, "7977-8.3.2-fwd.msrp"))
	if err != nil {
		t.Fatal(err)
	}
	// RFC 4975 §7.2: a response to SEND goes to the previous hop only.
	resp := NewResponse(req, 200, "", req.ToPath[0])
	if len(resp.ToPath) != 1 || resp.ToPath[0].SessionID != "iwnslt" || resp.Comment != "OK" || resp.TransactionID != "re58" {
		t.Fatalf("response: %q", resp.Bytes())
	}
	auth, _ := Parse(rfcExample(t, "4976-5.1-auth-fwd.msrp"))
	resp = NewResponse(auth, 401, "", auth.ToPath[0])
	if len(resp.ToPath) != 2 {
		t.Fatalf("a response to AUTH retraces the whole From-Path: %q", resp.Bytes())
	}
}

func TestNewTransactionIDAvoidsBody(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		tid := NewTransactionID(nil)
		if !validTransactionID([]byte(tid)) || seen[tid] {
			t.Fatalf("bad or repeated id %q", tid)
		}
		seen[tid] = true
	}
	// containsEndLine is what NewTransactionID rejects.
	if !containsEndLine([]byte("xx-------abcd$"), "abcd") || containsEndLine([]byte("------abcd"), "abcd") {
		t.Fatal("containsEndLine")
	}
}

func mustURI(t testing.TB, s string) URI {
	t.Helper()
	u, err := ParseURI(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
