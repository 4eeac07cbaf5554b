//go:build unix

package netbuf

import (
	"syscall"
)

const rawReads = true

// rawReader reads a socket through its syscall.RawConn. Its callbacks are made once and pass
// arguments and results through its fields, so a read allocates nothing. It belongs to the
// reading goroutine, like Conn's read side.
type rawReader struct {
	rc               syscall.RawConn
	p                []byte
	n                int
	err              error
	one              [1]byte
	try, wait, ready func(fd uintptr) bool
}

func newRawReader(rc syscall.RawConn) *rawReader {
	r := &rawReader{rc: rc}
	r.try = func(fd uintptr) bool { r.read(fd); return true }
	r.wait = func(fd uintptr) bool { r.read(fd); return r.err != syscall.EAGAIN }
	r.ready = func(fd uintptr) bool {
		for {
			_, _, err := syscall.Recvfrom(int(fd), r.one[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
			if err != syscall.EINTR {
				return err != syscall.EAGAIN
			}
		}
	}
	return r
}

func (r *rawReader) read(fd uintptr) {
	for {
		r.n, r.err = syscall.Read(int(fd), r.p)
		if r.err != syscall.EINTR {
			return
		}
	}
}

// Read reads into p. When nothing is waiting (EAGAIN), idle runs — outside rc.Read, which
// holds a reference on the descriptor that Close waits for — and the read is retried,
// parking in the poller until the socket is readable.
func (r *rawReader) Read(p []byte, idle func()) (int, error) {
	r.p = p
	rerr := r.rc.Read(r.try)
	if rerr == nil && r.err == syscall.EAGAIN {
		idle()
		rerr = r.rc.Read(r.wait)
	}
	n, err := r.n, r.err
	r.p, r.err = nil, nil
	if rerr != nil {
		return 0, rerr
	}
	if err != nil {
		return 0, err
	}
	return n, nil
}

// Wait parks until the socket is readable, peeking one byte (MSG_PEEK leaves it there). End
// of stream and socket errors count as readable: the read that follows reports them.
func (r *rawReader) Wait() error {
	return r.rc.Read(r.ready)
}
