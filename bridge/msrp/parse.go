package msrp

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
)

// Limits that bound what the parsers accept.
const (
	// DefaultMaxHeaderBytes bounds the start line plus header section of one message.
	DefaultMaxHeaderBytes = 16 << 10
	// MaxNonSendBody is the largest body a request other than SEND may carry (RFC 4975 §7.1).
	MaxNonSendBody = 10240
	maxFields      = 64
)

// ErrFraming is wrapped by errors after which a byte stream cannot be resynchronised: the
// start line is unreadable or the connection ended inside a message. The connection must be
// closed.
var ErrFraming = errors.New("msrp: framing lost")

// ParseError reports a message that is framed correctly but malformed. When TransactionID is
// set the message can be answered with Code (400, or 413 for an oversized non-SEND body) and
// the stream continues with the next message.
type ParseError struct {
	TransactionID string
	Method        string // the request method, "" for a response or when unknown
	Code          int
	Reason        string
	// ToPath and FromPath are the message's paths when they could be parsed, so that a
	// response can be addressed (RFC 4975 §7.2); nil otherwise.
	ToPath, FromPath []URI
	// FailureReport is the request's Failure-Report when it could be read: with "no" the
	// request must not be answered even when malformed (RFC 4975 §7.2).
	FailureReport string
}

func (e *ParseError) Error() string {
	if e.TransactionID == "" {
		return "msrp: " + e.Reason
	}
	return "msrp: transaction " + e.TransactionID + ": " + e.Reason
}

type framingError struct{ reason string }

func (e *framingError) Error() string { return "msrp: " + e.reason }
func (e *framingError) Unwrap() error { return ErrFraming }

// startLine is the parsed first line of a message.
type startLine struct {
	tid, method, comment string
	code                 int
}

// parseStartLine parses req-start or resp-start (RFC 4975 §9) without the CRLF.
func parseStartLine(line []byte) (startLine, error) {
	var sl startLine
	if !bytes.HasPrefix(line, []byte("MSRP ")) {
		return sl, &framingError{"start line does not begin with \"MSRP \""}
	}
	rest := line[5:]
	sp := bytes.IndexByte(rest, ' ')
	if sp < 0 {
		return sl, &framingError{"start line has no method or status"}
	}
	tid := rest[:sp]
	if !validTransactionID(tid) {
		return sl, &framingError{"bad transaction id " + strconv.Quote(string(tid))}
	}
	sl.tid = string(tid)
	rest = rest[sp+1:]
	if len(rest) >= 3 && isDigit(rest[0]) {
		if len(rest) > 3 && rest[3] != ' ' || !isDigit(rest[1]) || !isDigit(rest[2]) {
			return sl, &ParseError{TransactionID: sl.tid, Code: 400, Reason: "bad status code"}
		}
		sl.code = int(rest[0]-'0')*100 + int(rest[1]-'0')*10 + int(rest[2]-'0')
		if sl.code < 100 {
			return sl, &ParseError{TransactionID: sl.tid, Code: 400, Reason: "bad status code"}
		}
		if len(rest) > 4 {
			sl.comment = string(rest[4:])
		}
		return sl, nil
	}
	if len(rest) == 0 {
		return sl, &ParseError{TransactionID: sl.tid, Code: 400, Reason: "empty method"}
	}
	for _, c := range rest {
		if c < 'A' || c > 'Z' {
			return sl, &ParseError{TransactionID: sl.tid, Code: 400, Reason: "bad method " + strconv.Quote(string(rest))}
		}
	}
	sl.method = internMethod(rest)
	return sl, nil
}

func internMethod(b []byte) string {
	switch string(b) {
	case MethodSEND:
		return MethodSEND
	case MethodREPORT:
		return MethodREPORT
	case MethodAUTH:
		return MethodAUTH
	}
	return string(b)
}

// validTransactionID implements ident = ALPHANUM 3*31ident-char (RFC 4975 §9).
func validTransactionID(b []byte) bool {
	if len(b) < 4 || len(b) > 32 || !isAlnumByte(b[0]) {
		return false
	}
	for _, c := range b[1:] {
		if !isAlnumByte(c) && c != '.' && c != '-' && c != '+' && c != '%' && c != '=' {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// parseFields parses the header lines of a message (each without its CRLF) into m.
func parseFields(m *Message, lines [][]byte) error {
	bad := func(why string) error {
		pe := &ParseError{TransactionID: m.TransactionID, Method: m.Method, Code: 400, Reason: why,
			ToPath: m.ToPath, FromPath: m.FromPath, FailureReport: m.FailureReport}
		// Find the paths even when the bad line came before them.
		for _, line := range lines {
			name, value, ok := bytes.Cut(line, []byte(":"))
			if !ok {
				continue
			}
			v := string(bytes.TrimLeft(value, " \t"))
			switch {
			case pe.ToPath == nil && equalFold(name, "To-Path"):
				pe.ToPath, _ = ParsePath(v)
			case pe.FromPath == nil && equalFold(name, "From-Path"):
				pe.FromPath, _ = ParsePath(v)
			case equalFold(name, "Failure-Report"):
				pe.FailureReport = v
			}
		}
		return pe
	}
	if len(lines) > maxFields {
		return bad("too many header fields")
	}
	for _, line := range lines {
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return bad("header line without a name: " + strconv.Quote(trim(line)))
		}
		name := line[:colon]
		if !isAlnumByte(name[0]) || !isToken(string(name)) {
			return bad("bad header name " + strconv.Quote(trim(name)))
		}
		value := string(bytes.TrimLeft(line[colon+1:], " \t"))
		for i := 0; i < len(value); i++ {
			if c := value[i]; c < 0x20 && c != '\t' || c == 0x7f {
				return bad("control character in header " + string(name))
			}
		}
		var err error
		switch {
		case equalFold(name, "To-Path"):
			if m.ToPath != nil {
				return bad("duplicate To-Path")
			}
			m.ToPath, err = ParsePath(value)
		case equalFold(name, "From-Path"):
			if m.FromPath != nil {
				return bad("duplicate From-Path")
			}
			m.FromPath, err = ParsePath(value)
		case equalFold(name, "Message-ID"):
			if !validTransactionID([]byte(value)) {
				return bad("bad Message-ID")
			}
			m.MessageID = value
		case equalFold(name, "Byte-Range"):
			var r ByteRange
			r, err = parseByteRange(value)
			m.ByteRange = &r
		case equalFold(name, "Success-Report"):
			if value != ReportYes && value != ReportNo {
				return bad("Success-Report must be yes or no")
			}
			m.SuccessReport = value
		case equalFold(name, "Failure-Report"):
			if value != ReportYes && value != ReportNo && value != ReportPartial {
				return bad("Failure-Report must be yes, no or partial")
			}
			m.FailureReport = value
		case equalFold(name, "Status"):
			var s Status
			s, err = parseStatus(value)
			m.Status = &s
		case equalFold(name, "Content-Type"):
			if value == "" || strings.IndexByte(value, '/') <= 0 {
				return bad("bad Content-Type")
			}
			m.ContentType = value
		default:
			m.Fields = append(m.Fields, Field{Name: string(name), Value: value})
		}
		if err != nil {
			return bad(err.Error())
		}
	}
	if m.ToPath == nil || m.FromPath == nil {
		return bad("To-Path and From-Path are required")
	}
	return nil
}

func trim(b []byte) string {
	if len(b) > 40 {
		b = b[:40]
	}
	return string(b)
}

func equalFold(b []byte, s string) bool {
	return len(b) == len(s) && (string(b) == s || strings.EqualFold(string(b), s))
}

func parseByteRange(v string) (ByteRange, error) {
	var r ByteRange
	dash := strings.IndexByte(v, '-')
	slash := strings.IndexByte(v, '/')
	if dash <= 0 || slash < dash {
		return r, errors.New("bad Byte-Range " + strconv.Quote(v))
	}
	var err1, err2, err3 error
	r.Start, err1 = parseCount(v[:dash], false)
	r.End, err2 = parseCount(v[dash+1:slash], true)
	r.Total, err3 = parseCount(v[slash+1:], true)
	if err1 != nil || err2 != nil || err3 != nil || r.Start < 1 ||
		(r.End != Unknown && r.End < r.Start-1) ||
		(r.Total != Unknown && r.End != Unknown && r.End > r.Total) {
		return r, errors.New("bad Byte-Range " + strconv.Quote(v))
	}
	return r, nil
}

func parseCount(s string, star bool) (int64, error) {
	if star && s == "*" {
		return Unknown, nil
	}
	if s == "" || len(s) > 18 {
		return 0, errors.New("bad number")
	}
	var n int64
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return 0, errors.New("bad number")
		}
		n = n*10 + int64(s[i]-'0')
	}
	return n, nil
}

func parseStatus(v string) (Status, error) {
	// Status = "Status:" SP namespace SP status-code [SP comment]
	var s Status
	if len(v) < 7 || v[3] != ' ' || (len(v) > 7 && v[7] != ' ') {
		return s, errors.New("bad Status " + strconv.Quote(v))
	}
	ns, err1 := parseCount(v[:3], false)
	code, err2 := parseCount(v[4:7], false)
	if err1 != nil || err2 != nil {
		return s, errors.New("bad Status " + strconv.Quote(v))
	}
	s.Namespace, s.Code = int(ns), int(code)
	if len(v) > 8 {
		s.Comment = v[8:]
	}
	return s, nil
}

// Parse parses exactly one message from b, as carried in one WebSocket message (RFC 7977
// §5.1). m.Body aliases b. Text and binary WebSocket frames are parsed alike (RFC 7977 §4.2).
//
// A message that is unreadable from its first line returns an error wrapping [ErrFraming];
// one whose transaction id was read returns a [*ParseError] so that it can be answered.
func Parse(b []byte) (*Message, error) {
	return parse(b, DefaultMaxHeaderBytes)
}

func parse(b []byte, maxHeader int) (*Message, error) {
	eol := bytes.Index(b, crlf)
	if eol < 0 {
		return nil, &framingError{"no CRLF after the start line"}
	}
	sl, err := parseStartLine(b[:eol])
	if err != nil {
		return nil, err
	}
	m := &Message{TransactionID: sl.tid, Method: sl.method, Code: sl.code, Comment: sl.comment}
	bad := m.errorf
	endMark := make([]byte, 0, 9+len(sl.tid))
	endMark = append(append(endMark, "-------"...), sl.tid...)
	var lines [][]byte
	pos := eol + 2
	for {
		if pos > maxHeader {
			return nil, bad(400, "header section too large")
		}
		eol := bytes.Index(b[pos:], crlf)
		if eol < 0 {
			// A final end-line without its CRLF is tolerated on WebSocket.
			eol = len(b) - pos
		}
		line := b[pos : pos+eol]
		next := pos + eol + 2
		if bytes.HasPrefix(line, endMark) {
			if len(line) != len(endMark)+1 || !isFlag(line[len(line)-1]) || next < len(b) {
				return nil, bad(400, "bad end-line")
			}
			m.Flag = line[len(line)-1]
			if err := parseFields(m, lines); err != nil {
				return nil, err
			}
			if m.ContentType != "" {
				return nil, bad(400, "Content-Type without a body")
			}
			return m, finish(m)
		}
		if len(line) == 0 {
			if next > len(b) {
				return nil, bad(400, "no end-line")
			}
			pos = next
			break
		}
		lines = append(lines, line)
		pos = next
		if pos >= len(b) {
			return nil, bad(400, "no end-line")
		}
	}
	if err := parseFields(m, lines); err != nil {
		return nil, err
	}
	// The body runs to the end-line, which must end the WebSocket message.
	body := b[pos:]
	body = bytes.TrimSuffix(body, crlf)
	if len(body) < len(endMark)+1 || !isFlag(body[len(body)-1]) || !bytes.HasSuffix(body[:len(body)-1], endMark) {
		return nil, bad(400, "message does not end with its end-line")
	}
	m.Flag = body[len(body)-1]
	body = body[:len(body)-1-len(endMark)]
	if !bytes.HasSuffix(body, crlf) {
		if len(body) != 0 {
			return nil, bad(400, "no CRLF before the end-line")
		}
	} else {
		body = body[:len(body)-2]
	}
	m.Body = body
	m.HasBody = true
	if m.ContentType == "" {
		return nil, bad(400, "body without Content-Type")
	}
	if m.Method != MethodSEND && len(body) > MaxNonSendBody {
		return nil, bad(413, "non-SEND body larger than 10240 bytes")
	}
	return m, finish(m)
}

// errorf returns a ParseError about m, carrying what m knows of its paths.
func (m *Message) errorf(code int, reason string) error {
	return &ParseError{TransactionID: m.TransactionID, Method: m.Method, Code: code, Reason: reason,
		ToPath: m.ToPath, FromPath: m.FromPath, FailureReport: m.FailureReport}
}

// finish applies the checks that need the whole header section. A Byte-Range that disagrees
// with the body length is not an error: receivers place data by range-start and the actual
// length (RFC 4975 §7.3.1), and several RFC examples disagree themselves.
func finish(m *Message) error {
	if m.Method == "" && m.Flag != FlagEnd {
		return m.errorf(400, "response end-line flag must be $")
	}
	return nil
}

func isFlag(c byte) bool { return c == FlagEnd || c == FlagContinue || c == FlagAbort }

var crlf = []byte("\r\n")
