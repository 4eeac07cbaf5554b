package endpoint

import (
	"errors"
	"strconv"

	"github.com/simplegw/simplegw/bridge/msrp"
)

var (
	// ErrClosed is returned by operations on a closed connection, and wrapped by
	// [Conn.Err] and by [Incoming.Err] for a message cut off by the connection's end.
	ErrClosed = errors.New("endpoint: connection closed")

	// ErrNoResponse means a transaction got no response within the response timeout: RFC
	// 4975 §7.1.1 asks the sender to "inform the user that the request probably failed" 30
	// seconds after the last byte. [Code] reports it as 408.
	ErrNoResponse = errors.New("endpoint: no response to the transaction")

	// ErrAborted is [Incoming.Err] for a message its sender abandoned with the '#' flag
	// (RFC 4975 §7.1).
	ErrAborted = errors.New("endpoint: message aborted by the sender")
)

// StatusError is a failure reported by the peer or a relay: a non-200 transaction response
// or a REPORT whose Status is not 200. Status codes of namespace 000 in a REPORT are read
// as response codes (RFC 4975 §7.3.2).
type StatusError struct {
	Code    int
	Comment string
	// Report is true when the failure arrived in a REPORT rather than a response (RFC 4976
	// §6.4.1: a relay that answered 200 reports later failures this way).
	Report bool
	// Message is the response or REPORT itself, for its headers (Min-Expires and
	// Max-Expires of a 423, for one). Its Body is nil.
	Message *msrp.Message
}

func (e *StatusError) Error() string {
	s := "msrp: "
	if e.Report {
		s += "REPORT "
	}
	s += strconv.Itoa(e.Code)
	if e.Comment != "" {
		s += " " + e.Comment
	}
	return s
}

// Code returns the MSRP status that err carries: a [*StatusError]'s Code, 408 for
// [ErrNoResponse], and 0 for any other error.
func Code(err error) int {
	var se *StatusError
	if errors.As(err, &se) {
		return se.Code
	}
	if errors.Is(err, ErrNoResponse) {
		return 408
	}
	return 0
}

func statusFromResponse(resp *msrp.Message) *StatusError {
	h := *resp
	h.Body = nil
	return &StatusError{Code: resp.Code, Comment: resp.Comment, Message: &h}
}
