package endpoint

import (
	"io"
	"net"
	"testing"

	"github.com/simplegw/simplegw/bridge/msrp"
)

// FuzzRangeSet checks the reassembly bookkeeping against a bitmap.
func FuzzRangeSet(f *testing.F) {
	f.Add([]byte{200, 100, 0, 100, 49, 101, 150, 50})
	f.Add([]byte{0, 0, 255, 1, 10, 10, 9, 2})
	f.Fuzz(func(t *testing.T, ops []byte) {
		var s rangeSet
		var model [600]bool
		for i := 0; i+1 < len(ops); i += 2 {
			a, n := int64(ops[i]), int64(ops[i+1])
			if !s.add(a, a+n) {
				t.Fatal("refused with few intervals")
			}
			for j := a; j < a+n; j++ {
				model[j] = true
			}
			// Intervals are sorted, non-empty, disjoint and not adjacent.
			for k, r := range s.iv {
				if r[0] >= r[1] || (k > 0 && s.iv[k-1][1] >= r[0]) {
					t.Fatalf("bad intervals %v", s.iv)
				}
			}
			for j := range model {
				if model[j] != s.covers(int64(j), int64(j)+1) {
					t.Fatalf("offset %d: set %v, model %v (intervals %v)", j, s.covers(int64(j), int64(j)+1), model[j], s.iv)
				}
			}
			var p int64
			for p < int64(len(model)) && model[p] {
				p++
			}
			if s.prefix() != p {
				t.Fatalf("prefix %d, want %d", s.prefix(), p)
			}
		}
	})
}

// FuzzConnInput feeds arbitrary bytes to a connection as a peer would: whatever arrives,
// the connection answers or closes, and never panics or hangs.
func FuzzConnInput(f *testing.F) {
	to := "To-Path: msrp://127.0.0.1:2855/sess1;tcp\r\nFrom-Path: msrp://127.0.0.1:9/peer1;tcp\r\n"
	f.Add([]byte("MSRP abcd SEND\r\n" + to + "Message-ID: msg1\r\nByte-Range: 1-5/5\r\nSuccess-Report: yes\r\nContent-Type: text/plain\r\n\r\nhello\r\n-------abcd$\r\n"))
	f.Add([]byte("MSRP abcd SEND\r\n" + to + "Message-ID: msg1\r\nByte-Range: 4-6/6\r\nContent-Type: text/plain\r\n\r\nlo!\r\n-------abcd$\r\n" +
		"MSRP abce SEND\r\n" + to + "Message-ID: msg1\r\nByte-Range: 1-3/6\r\nContent-Type: text/plain\r\n\r\nhel\r\n-------abce+\r\n"))
	f.Add([]byte("MSRP abcd SEND\r\n" + to + "Message-ID: msg1\r\nByte-Range: 1-*/*\r\nContent-Type: text/plain\r\n\r\npart\r\n-------abcd#\r\n"))
	f.Add([]byte("MSRP abcd REPORT\r\n" + to + "Message-ID: msg1\r\nStatus: 000 200 OK\r\n-------abcd$\r\n"))
	f.Add([]byte("MSRP abcd NICKNAME\r\n" + to + "Use-Nickname: \"x\"\r\n-------abcd$\r\n"))
	f.Add([]byte("MSRP abcd 200 OK\r\n" + to + "-------abcd$\r\n"))
	f.Add([]byte("MSRP abcd SEND\r\n" + to + "Message-ID: msg1\r\nByte-Range: 999999999-999999999/*\r\nContent-Type: text/plain\r\n\r\nx\r\n-------abcd$\r\n"))
	f.Add([]byte("garbage\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		ours, theirs := net.Pipe()
		tbl := newTable()
		tbl.add(mustURI(t, "msrp://127.0.0.1:2855/sess1;tcp"), nil)
		delivered := 0
		c := newStreamConn(ours, "tcp", Options{MaxInMemory: 1 << 16, OnMessage: func(*Incoming) { delivered++ }},
			tbl, false, mustURI(t, "msrp://127.0.0.1:2855;tcp"))
		drained := make(chan struct{})
		go func() { io.Copy(io.Discard, theirs); close(drained) }()
		theirs.Write(in)
		theirs.Close()
		<-c.readDone
		c.Close()
		<-drained
		_ = msrp.DefaultPieceSize
	})
}
