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

// startLine is the parsed first line of a message, kept as offsets into the line so that its
// strings can be cut later from the one string copy of the whole header section.
type startLine struct {
	tidEnd int    // the transaction id is line[5:tidEnd]
	end    int    // length of the line without its CRLF
	code   int    // a response's status code (100-999); 0 for a request
	method string // a request's method when this package names it; "" for an extension method
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
	sl.tidEnd, sl.end = 5+sp, len(line)
	rest = rest[sp+1:]
	if len(rest) >= 3 && isDigit(rest[0]) {
		if len(rest) > 3 && rest[3] != ' ' || !isDigit(rest[1]) || !isDigit(rest[2]) {
			return sl, &ParseError{TransactionID: string(tid), Code: 400, Reason: "bad status code"}
		}
		sl.code = int(rest[0]-'0')*100 + int(rest[1]-'0')*10 + int(rest[2]-'0')
		if sl.code < 100 {
			return sl, &ParseError{TransactionID: string(tid), Code: 400, Reason: "bad status code"}
		}
		return sl, nil
	}
	if len(rest) == 0 {
		return sl, &ParseError{TransactionID: string(tid), Code: 400, Reason: "empty method"}
	}
	for _, c := range rest {
		if c < 'A' || c > 'Z' {
			return sl, &ParseError{TransactionID: string(tid), Code: 400, Reason: "bad method " + strconv.Quote(string(rest))}
		}
	}
	sl.method = internMethod(rest)
	return sl, nil
}

// fill sets m's transaction id, method or status code, and comment. head is the string copy
// of the header section, which begins with the start line sl was parsed from.
func (sl startLine) fill(m *Message, head string) {
	m.TransactionID = head[5:sl.tidEnd]
	rest := head[sl.tidEnd+1 : sl.end]
	switch {
	case sl.code != 0:
		m.Code = sl.code
		if len(rest) > 4 {
			m.Comment = rest[4:]
		}
	case sl.method != "":
		m.Method = sl.method
	default:
		m.Method = rest
	}
}

// internMethod returns the constant for a method this package names, "" for any other.
func internMethod(b []byte) string {
	switch string(b) {
	case MethodSEND:
		return MethodSEND
	case MethodREPORT:
		return MethodREPORT
	case MethodAUTH:
		return MethodAUTH
	}
	return ""
}

// validTransactionID implements ident = ALPHANUM 3*31ident-char (RFC 4975 §9), the syntax of
// transaction ids and Message-IDs.
func validTransactionID[T string | []byte](b T) bool {
	if len(b) < 4 || len(b) > 32 || charClass[b[0]]&cAlnum == 0 {
		return false
	}
	for i := 1; i < len(b); i++ {
		if charClass[b[i]]&cIdent == 0 {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// block is a parsed message together with the storage its paths, ByteRange and Status use, so
// that parsing a message allocates twice: once for the block, once for the string copy of its
// header section, of which every string of the message is a substring. (Fields, rare on the
// relay's path, take one more allocation when present.) The block lives as long as anything
// points into it.
type block struct {
	m    Message
	uris [4]URI // To-Path and From-Path, when they fit: enough for RFC 7977 §8.3's SEND
	nuri int    // uris in use
	br   ByteRange
	st   Status
}

// decodeHead parses head, the start line and the header lines of a message, each line ending
// in CRLF; sl is the parsed start line and n the number of header lines.
func decodeHead(head string, sl startLine, n int) (*block, error) {
	b := new(block)
	sl.fill(&b.m, head)
	return b, b.parseFields(head[sl.end+2:], n)
}

// path parses a To-Path or From-Path value into the block's URI array when there is room.
func (b *block) path(s string) ([]URI, error) {
	n, more, err := parsePathInto(b.uris[b.nuri:], s)
	switch {
	case err != nil:
		return nil, err
	case more:
		return parseLongPath(s)
	case n == 0:
		return nil, uriError(s, "empty path")
	}
	dst := b.uris[b.nuri : b.nuri+n : b.nuri+n]
	b.nuri += n
	return dst, nil
}

// Header fields that Message has fields of its own for.
const (
	hOther = iota
	hToPath
	hFromPath
	hMessageID
	hByteRange
	hSuccessReport
	hFailureReport
	hStatus
	hContentType
)

// headerOf classifies a header name (case-insensitive, RFC 4975 §9).
func headerOf(name string) int {
	switch len(name) {
	case 6:
		if equalFold(name, "Status") {
			return hStatus
		}
	case 7:
		if equalFold(name, "To-Path") {
			return hToPath
		}
	case 9:
		if equalFold(name, "From-Path") {
			return hFromPath
		}
	case 10:
		if equalFold(name, "Message-ID") {
			return hMessageID
		}
		if equalFold(name, "Byte-Range") {
			return hByteRange
		}
	case 12:
		if equalFold(name, "Content-Type") {
			return hContentType
		}
	case 14:
		if equalFold(name, "Failure-Report") {
			return hFailureReport
		}
		if equalFold(name, "Success-Report") {
			return hSuccessReport
		}
	}
	return hOther
}

// nextLine returns the first line of lines without its CRLF, and the lines after it.
func nextLine(lines string) (line, rest string) {
	i := strings.Index(lines, "\r\n")
	if i < 0 {
		return lines, ""
	}
	return lines[:i], lines[i+2:]
}

// trimSpace removes the white space (SP, HTAB) that may follow a header's colon.
func trimSpace(s string) string {
	for s != "" && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	return s
}

// parseFields parses n header lines (each ending in CRLF) into the block's message.
func (b *block) parseFields(lines string, n int) error {
	m := &b.m
	all := lines
	if n > maxFields {
		return b.bad(all, "too many header fields")
	}
	for i := 0; lines != ""; i++ {
		var line string
		line, lines = nextLine(lines)
		colon := strings.IndexByte(line, ':')
		if colon <= 0 {
			return b.bad(all, "header line without a name: "+strconv.Quote(trim(line)))
		}
		name := line[:colon]
		if !isAlnumByte(name[0]) || !isToken(name) {
			return b.bad(all, "bad header name "+strconv.Quote(trim(name)))
		}
		value := trimSpace(line[colon+1:])
		for i := 0; i < len(value); i++ {
			if charClass[value[i]]&cCtl != 0 {
				return b.bad(all, "control character in header "+name)
			}
		}
		var err error
		switch headerOf(name) {
		case hToPath:
			if m.ToPath != nil {
				return b.bad(all, "duplicate To-Path")
			}
			m.ToPath, err = b.path(value)
		case hFromPath:
			if m.FromPath != nil {
				return b.bad(all, "duplicate From-Path")
			}
			m.FromPath, err = b.path(value)
		case hMessageID:
			if !validTransactionID(value) {
				return b.bad(all, "bad Message-ID")
			}
			m.MessageID = value
		case hByteRange:
			b.br, err = parseByteRange(value)
			m.ByteRange = &b.br
		case hSuccessReport:
			// The constants rather than substrings of the header section.
			switch value {
			case ReportYes:
				m.SuccessReport = ReportYes
			case ReportNo:
				m.SuccessReport = ReportNo
			default:
				return b.bad(all, "Success-Report must be yes or no")
			}
		case hFailureReport:
			switch value {
			case ReportYes:
				m.FailureReport = ReportYes
			case ReportNo:
				m.FailureReport = ReportNo
			case ReportPartial:
				m.FailureReport = ReportPartial
			default:
				return b.bad(all, "Failure-Report must be yes, no or partial")
			}
		case hStatus:
			b.st, err = parseStatus(value)
			m.Status = &b.st
		case hContentType:
			if value == "" || strings.IndexByte(value, '/') <= 0 {
				return b.bad(all, "bad Content-Type")
			}
			m.ContentType = value
		default:
			if m.Fields == nil {
				m.Fields = make([]Field, 0, max(n-i, 1)) // room for every line left
			}
			m.Fields = append(m.Fields, Field{Name: name, Value: value})
		}
		if err != nil {
			return b.bad(all, err.Error())
		}
	}
	if m.ToPath == nil || m.FromPath == nil {
		return b.bad(all, "To-Path and From-Path are required")
	}
	return nil
}

// bad returns the ParseError for the block's message, with the paths and Failure-Report found
// in its header lines even when the bad line came before them.
func (b *block) bad(lines, why string) error {
	m := &b.m
	pe := &ParseError{TransactionID: m.TransactionID, Method: m.Method, Code: 400, Reason: why,
		ToPath: m.ToPath, FromPath: m.FromPath, FailureReport: m.FailureReport}
	for lines != "" {
		var line string
		line, lines = nextLine(lines)
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		v := trimSpace(value)
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

// trim shortens s for an error message.
func trim(s string) string {
	if len(s) > 40 {
		s = s[:40]
	}
	return s
}

func equalFold(a, b string) bool {
	return len(a) == len(b) && (a == b || strings.EqualFold(a, b))
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
// §5.1). m.Body aliases b; every other field is a copy, so it stays valid when b is reused.
// Text and binary WebSocket frames are parsed alike (RFC 7977 §4.2).
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
	tid := b[5:sl.tidEnd]
	// early reports an error found before the header fields are parsed.
	early := func(code int, reason string) error {
		var m Message
		sl.fill(&m, string(b[:eol]))
		return m.errorf(code, reason)
	}
	n := 0 // header lines
	pos := eol + 2
	for {
		if pos > maxHeader {
			return nil, early(400, "header section too large")
		}
		eol := bytes.Index(b[pos:], crlf)
		if eol < 0 {
			// A final end-line without its CRLF is tolerated on WebSocket.
			eol = len(b) - pos
		}
		line := b[pos : pos+eol]
		next := pos + eol + 2
		if hasEndMark(line, tid) {
			if len(line) != 8+len(tid) || !isFlag(line[len(line)-1]) || next < len(b) {
				return nil, early(400, "bad end-line")
			}
			blk, err := decodeHead(string(b[:pos]), sl, n)
			m := &blk.m
			m.Flag = line[len(line)-1]
			if err != nil {
				return nil, err
			}
			if m.ContentType != "" {
				return nil, m.errorf(400, "Content-Type without a body")
			}
			return m, finish(m)
		}
		if len(line) == 0 {
			if next > len(b) {
				return nil, early(400, "no end-line")
			}
			break
		}
		n++
		pos = next
		if pos >= len(b) {
			return nil, early(400, "no end-line")
		}
	}
	blk, err := decodeHead(string(b[:pos]), sl, n)
	if err != nil {
		return nil, err
	}
	m := &blk.m
	// The body runs to the end-line, which must end the WebSocket message.
	body := b[pos+2:]
	body = bytes.TrimSuffix(body, crlf)
	k := 7 + len(tid) // "-------" tid
	if len(body) < k+1 || !isFlag(body[len(body)-1]) || !hasEndMark(body[len(body)-1-k:len(body)-1], tid) {
		return nil, m.errorf(400, "message does not end with its end-line")
	}
	m.Flag = body[len(body)-1]
	body = body[:len(body)-1-k]
	if !bytes.HasSuffix(body, crlf) {
		if len(body) != 0 {
			return nil, m.errorf(400, "no CRLF before the end-line")
		}
	} else {
		body = body[:len(body)-2]
	}
	m.Body = body
	m.HasBody = true
	if m.ContentType == "" {
		return nil, m.errorf(400, "body without Content-Type")
	}
	if m.Method != MethodSEND && len(body) > MaxNonSendBody {
		return nil, m.errorf(413, "non-SEND body larger than 10240 bytes")
	}
	return m, finish(m)
}

// hasEndMark reports whether line begins with the end-line's "-------" and transaction id.
func hasEndMark(line, tid []byte) bool {
	return len(line) >= 7+len(tid) && string(line[:7]) == "-------" && string(line[7:7+len(tid)]) == string(tid)
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
