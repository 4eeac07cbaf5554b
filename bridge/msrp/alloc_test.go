//go:build !race

// The race detector allocates on its own account, so allocation counts are checked only in
// ordinary builds.

package msrp

import (
	"bytes"
	"testing"
)

// TestAllocations pins the allocations of the relay's hot path (RFC 4976 §6.4: parse, route,
// forward, answer): counts, not times.
func TestAllocations(t *testing.T) {
	send := benchSend("a786hjs2", 1024)
	built := URI{Host: "relay.example.com", Port: 2855, SessionID: "jui787s2f", Transport: "tcp"}
	in, err := Parse(send)
	if err != nil {
		t.Fatal(err)
	}
	out := &Message{TransactionID: "Xk3j9s0dk2lq8dj1", Method: MethodSEND, ToPath: in.ToPath[1:],
		FromPath: []URI{built, in.FromPath[0]}, MessageID: in.MessageID, ByteRange: in.ByteRange,
		FailureReport: in.FailureReport, ContentType: in.ContentType, HasBody: true}
	buf := make([]byte, 0, 4096)

	stream := bytes.Repeat(send, 200)
	r := NewReader(bytes.NewReader(stream), 0, 0)

	for _, tc := range []struct {
		name string
		max  float64
		f    func()
	}{
		// One block for the message with its paths, one string for its header section.
		{"Parse", 2, func() { Parse(send) }},
		{"Reader.Next", 2, func() { r.Next() }},
		{"AppendHead", 0, func() { buf = out.AppendHead(buf[:0]) }},
		{"AppendEndLine", 0, func() { buf = AppendEndLine(buf[:0], out.TransactionID, FlagEnd, true) }},
		{"NewResponse", 1, func() { NewResponse(in, 200, "OK", built) }},
		{"ParseURI", 0, func() { ParseURI("msrp://bob.example.com:8888/9di4eae923wzd;tcp") }},
		{"ParsePath", 1, func() { ParsePath(benchToPath) }},
		{"URI.String", 1, func() { _ = built.String() }},
	} {
		if got := testing.AllocsPerRun(100, tc.f); got > tc.max {
			t.Errorf("%s: %v allocations, want at most %v", tc.name, got, tc.max)
		}
	}
}
