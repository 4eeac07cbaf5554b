package msrp

import (
	"strconv"
	"strings"
)

// Methods defined by RFC 4975 §9 and RFC 4976 §4.1. Any other run of upper-case letters is a
// valid method too (RFC 7701's NICKNAME, for one) and relays forward it.
const (
	MethodSEND   = "SEND"
	MethodREPORT = "REPORT"
	MethodAUTH   = "AUTH"
)

// Continuation flags of the end-line (RFC 4975 §7.1).
const (
	FlagEnd      byte = '$' // this chunk ends the message
	FlagContinue byte = '+' // more chunks of this message follow
	FlagAbort    byte = '#' // the sender abandoned the message
)

// Report header values (RFC 4975 §7.1.1). An absent header means the default: Success-Report
// "no", Failure-Report "yes".
const (
	ReportYes     = "yes"
	ReportNo      = "no"
	ReportPartial = "partial"
)

// Field is one header field kept verbatim: every header that [Message] has no field of its own
// for (Use-Path, Expires, the digest headers, MIME headers, extensions), in arrival order.
type Field struct {
	Name  string
	Value string
}

// Unknown is the value of a Byte-Range end or total given as "*".
const Unknown int64 = -1

// ByteRange is the Byte-Range header of a SEND (RFC 4975 §7.1.1): range-start "-" range-end
// "/" total, 1-based and inclusive. End and Total are [Unknown] for "*".
type ByteRange struct {
	Start, End, Total int64
}

func (r ByteRange) String() string {
	return string(r.append(nil))
}

func (r ByteRange) append(b []byte) []byte {
	b = strconv.AppendInt(b, r.Start, 10)
	b = append(b, '-')
	b = appendOrStar(b, r.End)
	b = append(b, '/')
	return appendOrStar(b, r.Total)
}

func appendOrStar(b []byte, n int64) []byte {
	if n < 0 {
		return append(b, '*')
	}
	return strconv.AppendInt(b, n, 10)
}

// Status is the Status header of a REPORT (RFC 4975 §7.1.2): namespace, code and comment.
type Status struct {
	Namespace int // 0 for the codes of RFC 4975 ("000")
	Code      int
	Comment   string
}

// Message is one MSRP request or response, or one chunk of a SEND (RFC 4975 §9).
//
// A request has Method set; a response has Method empty and Code set. ToPath and FromPath are
// required in both. Body is nil for a bodiless message; a message with a body (even an empty
// one) must have ContentType (RFC 4975 §7.1).
//
// A Message from [Parse] or a [Reader] is allocated with the storage of its paths, Fields,
// ByteRange and Status, and its strings are substrings of one copy of its header section:
// holding on to any of them (a URI of its From-Path, say) keeps that memory alive, at most
// about a kilobyte plus the header section.
type Message struct {
	TransactionID string
	Method        string // request method; "" for a response
	Code          int    // response status code
	Comment       string // response comment ("OK")

	ToPath   []URI
	FromPath []URI

	MessageID     string
	ByteRange     *ByteRange // nil when absent
	SuccessReport string     // "" when absent (means "no")
	FailureReport string     // "" when absent (means "yes")
	Status        *Status    // REPORT's Status header; nil when absent
	ContentType   string     // "" when absent; always written last (RFC 4975 §7.1)

	// Fields holds every other header in arrival order; see [Message.Get].
	Fields []Field

	Body []byte
	// HasBody distinguishes a request with an empty body (Content-Type and a blank line
	// present) from a bodiless one (RFC 4975 §7.1).
	HasBody bool
	Flag    byte // FlagEnd, FlagContinue or FlagAbort; responses carry FlagEnd
}

// IsRequest reports whether m is a request.
func (m *Message) IsRequest() bool { return m.Method != "" }

// Get returns the value of the first Field named name (case-insensitive) and whether it exists.
func (m *Message) Get(name string) (string, bool) {
	for _, f := range m.Fields {
		if strings.EqualFold(f.Name, name) {
			return f.Value, true
		}
	}
	return "", false
}

// Set replaces the first Field named name, or appends one.
func (m *Message) Set(name, value string) {
	for i, f := range m.Fields {
		if strings.EqualFold(f.Name, name) {
			m.Fields[i].Value = value
			return
		}
	}
	m.Fields = append(m.Fields, Field{Name: name, Value: value})
}

// Del removes every Field named name.
func (m *Message) Del(name string) {
	out := m.Fields[:0]
	for _, f := range m.Fields {
		if !strings.EqualFold(f.Name, name) {
			out = append(out, f)
		}
	}
	m.Fields = out
}

// FailureReportOrDefault returns the effective Failure-Report ("yes" when absent).
func (m *Message) FailureReportOrDefault() string {
	if m.FailureReport == "" {
		return ReportYes
	}
	return m.FailureReport
}

// WantsSuccessReport reports whether the sender asked for success REPORTs.
func (m *Message) WantsSuccessReport() bool { return m.SuccessReport == ReportYes }

// Expires returns the Expires header as whole seconds (RFC 4976 §4.6), and whether it is
// present and valid.
func (m *Message) Expires() (int, bool) { return m.intField("Expires") }

func (m *Message) intField(name string) (int, bool) {
	v, ok := m.Get(name)
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || v[0] == '+' {
		return 0, false
	}
	return n, true
}

// UsePath parses the Use-Path header of an AUTH response (RFC 4976 §4.2).
func (m *Message) UsePath() ([]URI, error) {
	v, ok := m.Get("Use-Path")
	if !ok {
		return nil, uriError("", "no Use-Path header")
	}
	return ParsePath(v)
}

// AppendHead appends m's start line and header section to b: everything up to the body. When
// m has a body the blank line that separates it is included, so the body follows directly;
// the caller then appends the body and [AppendEndLine]. Fields are written in this order:
// To-Path, From-Path, Message-ID, Byte-Range, Success-Report, Failure-Report, Status, Fields,
// Content-Type (RFC 4975 §9: To-Path and From-Path first; §7.1: Content-Type last).
func (m *Message) AppendHead(b []byte) []byte {
	b = append(b, "MSRP "...)
	b = append(b, m.TransactionID...)
	b = append(b, ' ')
	if m.Method != "" {
		b = append(b, m.Method...)
	} else {
		b = strconv.AppendInt(b, int64(m.Code), 10)
		if m.Comment != "" {
			b = append(b, ' ')
			b = append(b, m.Comment...)
		}
	}
	b = append(b, "\r\nTo-Path: "...)
	b = appendPath(b, m.ToPath)
	b = append(b, "\r\nFrom-Path: "...)
	b = appendPath(b, m.FromPath)
	b = append(b, "\r\n"...)
	if m.MessageID != "" {
		b = appendField(b, "Message-ID", m.MessageID)
	}
	if m.ByteRange != nil {
		b = append(b, "Byte-Range: "...)
		b = m.ByteRange.append(b)
		b = append(b, "\r\n"...)
	}
	if m.SuccessReport != "" {
		b = appendField(b, "Success-Report", m.SuccessReport)
	}
	if m.FailureReport != "" {
		b = appendField(b, "Failure-Report", m.FailureReport)
	}
	if s := m.Status; s != nil {
		b = append(b, "Status: "...)
		b = appendPadded3(b, s.Namespace)
		b = append(b, ' ')
		b = appendPadded3(b, s.Code)
		if s.Comment != "" {
			b = append(b, ' ')
			b = append(b, s.Comment...)
		}
		b = append(b, "\r\n"...)
	}
	for _, f := range m.Fields {
		b = appendField(b, f.Name, f.Value)
	}
	if m.ContentType != "" {
		b = appendField(b, "Content-Type", m.ContentType)
	}
	if m.HasBody || len(m.Body) > 0 {
		b = append(b, "\r\n"...)
	}
	return b
}

// AppendEndLine appends the end-line that closes a message with transaction id tid (RFC 4975
// §7.1). withBody says whether a body precedes it, in which case the CRLF that separates the
// body from the end-line is written first.
func AppendEndLine(b []byte, tid string, flag byte, withBody bool) []byte {
	if withBody {
		b = append(b, "\r\n"...)
	}
	b = append(b, "-------"...)
	b = append(b, tid...)
	return append(b, flag, '\r', '\n')
}

// Append appends the whole encoded message to b.
func (m *Message) Append(b []byte) []byte {
	b = m.AppendHead(b)
	withBody := m.HasBody || len(m.Body) > 0
	b = append(b, m.Body...)
	flag := m.Flag
	if flag == 0 {
		flag = FlagEnd
	}
	return AppendEndLine(b, m.TransactionID, flag, withBody)
}

// Bytes returns the encoded message.
func (m *Message) Bytes() []byte { return m.Append(nil) }

// appendPath appends path as FormatPath formats it, without building each URI's string.
func appendPath(b []byte, path []URI) []byte {
	for i := range path {
		if i > 0 {
			b = append(b, ' ')
		}
		b = path[i].appendTo(b)
	}
	return b
}

func appendField(b []byte, name, value string) []byte {
	b = append(b, name...)
	b = append(b, ": "...)
	b = append(b, value...)
	return append(b, "\r\n"...)
}

func appendPadded3(b []byte, n int) []byte {
	if n >= 0 && n < 100 {
		b = append(b, '0')
		if n < 10 {
			b = append(b, '0')
		}
	}
	return strconv.AppendInt(b, int64(n), 10)
}

// ReasonPhrase returns the comment RFC 4975 §10 and RFC 4976 §10.3 give a status code.
func ReasonPhrase(code int) string {
	switch code {
	case 200:
		return "OK"
	case 400:
		return "Bad Request"
	case 401:
		return "Unauthorized"
	case 403:
		return "Forbidden"
	case 408:
		return "Request Timeout"
	case 413:
		return "Message Too Large"
	case 415:
		return "Unsupported Media Type"
	case 423:
		return "Interval Out-of-Bounds"
	case 481:
		return "Session Does Not Exist"
	case 501:
		return "Not Implemented"
	case 503:
		return "Service Unavailable"
	case 506:
		return "Wrong Session"
	}
	return ""
}

// NewResponse builds the response to req with the given code (RFC 4975 §7.2): the same
// transaction id; a To-Path of the first From-Path URI for a response to SEND (responses to SEND
// go to the previous hop only) or the whole From-Path otherwise; and a From-Path of from, the
// responder's own URI. An empty comment is replaced by [ReasonPhrase].
func NewResponse(req *Message, code int, comment string, from URI) *Message {
	if comment == "" {
		comment = ReasonPhrase(code)
	}
	to := req.FromPath
	if req.Method == MethodSEND && len(to) > 1 {
		to = to[:1]
	}
	// One allocation holds the response and its From-Path.
	r := &response{from: [1]URI{from}}
	r.m = Message{
		TransactionID: req.TransactionID,
		Code:          code,
		Comment:       comment,
		ToPath:        to,
		FromPath:      r.from[:],
		Flag:          FlagEnd,
	}
	return &r.m
}

// response is a Message built by NewResponse together with the array its From-Path uses.
type response struct {
	m    Message
	from [1]URI
}
