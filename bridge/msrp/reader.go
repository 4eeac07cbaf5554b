package msrp

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strconv"
)

// DefaultPieceSize is the largest body piece a [Reader] hands out by default.
const DefaultPieceSize = 64 << 10

// Part is a piece of one message read from a stream by [Reader].
//
// Every part of one chunk shares the same *Message (whose Body is nil and whose Flag is set
// only on the final part). A chunk whose body fits in one piece arrives as a single final part.
type Part struct {
	Message *Message
	// Body is the piece of the chunk's body; it aliases the Reader's buffer and is valid only
	// until the next call to [Reader.Next]. Never empty except for a message whose whole body
	// is empty (bodiless or empty body), which arrives as one final part.
	Body []byte
	// Offset is the position of Body within the chunk's body (0 for the first part).
	Offset int64
	// Final reports that the end-line was read: Message.Flag is valid and this is the last
	// part of the chunk.
	Final bool
}

// Reader reads MSRP messages from a byte stream (TCP or TLS, RFC 4975 §5.1). It parses the
// start line and headers as soon as they arrive and streams the body in pieces of at most
// the piece size, so memory stays bounded whatever the chunk size.
//
// A Reader is not safe for concurrent use: one goroutine owns it.
type Reader struct {
	br        *bufio.Reader
	maxHeader int
	maxPiece  int

	cur     *Message
	endLine []byte // CRLF "-------" tid, matched in the body
	offset  int64  // body bytes handed out so far for cur
	pending int    // buffered bytes to discard before reading on
	scanned int    // buffered body bytes known not to begin the end-line
	skip    bool   // discard cur's body (it was rejected)
	head    []byte // start line and header lines being collected, with their CRLFs
}

// NewReader returns a Reader on r that hands out body pieces of at most pieceSize bytes
// (0 = [DefaultPieceSize]; more than [MaxNonSendBody]) and accepts header sections of at most
// maxHeader bytes (0 = [DefaultMaxHeaderBytes]).
func NewReader(r io.Reader, pieceSize, maxHeader int) *Reader {
	if pieceSize <= 0 {
		pieceSize = DefaultPieceSize
	}
	if pieceSize <= MaxNonSendBody {
		// A non-SEND body (at most 10240 bytes) must always arrive whole, so that an
		// oversized one is refused before any of it is handed out.
		pieceSize = MaxNonSendBody + 1
	}
	if maxHeader <= 0 {
		maxHeader = DefaultMaxHeaderBytes
	}
	// The buffer holds a whole piece plus the longest end-line (CRLF, 7 dashes, a 32-char
	// transaction id, flag, CRLF) so the end-line is always seen whole.
	size := pieceSize + 64
	if size < maxHeader+64 {
		size = maxHeader + 64
	}
	return &Reader{br: bufio.NewReaderSize(r, size), maxHeader: maxHeader, maxPiece: pieceSize}
}

// Next returns the next part. At the start of a message it reads and parses the start line
// and header section; then it returns the body in pieces.
//
// A [*ParseError] means the message was framed correctly but is malformed: the caller may
// answer it, and the next call continues with the following message. Any other error
// ([ErrFraming], io.EOF at a message boundary, io.ErrUnexpectedEOF, or the underlying
// reader's error) ends the stream.
func (r *Reader) Next() (Part, error) {
	if r.pending > 0 {
		if _, err := r.br.Discard(r.pending); err != nil {
			return Part{}, err
		}
		r.scanned -= r.pending
		if r.scanned < 0 {
			r.scanned = 0
		}
		r.pending = 0
	}
	for r.skip {
		p, err := r.body()
		if err != nil {
			return Part{}, err
		}
		if p.Final {
			r.skip = false
		}
		if r.pending > 0 {
			if _, err := r.br.Discard(r.pending); err != nil {
				return Part{}, err
			}
			r.scanned, r.pending = 0, 0
		}
	}
	if r.cur == nil {
		return r.header()
	}
	return r.body()
}

// header reads and parses a start line and header section. The lines are collected in r.head
// (with their CRLFs) and copied into one string once the section is complete.
func (r *Reader) header() (Part, error) {
	r.head = r.head[:0]
	var sl startLine
	started := false
	size, n := 0, 0 // bytes (without CRLFs) and number of the header lines
	for {
		line, err := r.br.ReadSlice('\n')
		if err != nil {
			if errors.Is(err, bufio.ErrBufferFull) {
				return Part{}, &framingError{"header line too long"}
			}
			if err == io.EOF && !started && len(line) == 0 {
				return Part{}, io.EOF
			}
			if err == io.EOF {
				return Part{}, io.ErrUnexpectedEOF
			}
			return Part{}, err
		}
		if len(line) < 2 || line[len(line)-2] != '\r' {
			return Part{}, &framingError{"line not terminated by CRLF"}
		}
		text := line[:len(line)-2]
		if !started {
			if len(text) == 0 {
				continue // stray CRLF between messages
			}
			sl, err = parseStartLine(text)
			if err != nil {
				var pe *ParseError
				if errors.As(err, &pe) {
					// The transaction id is known, so the stream can be resynchronised.
					r.cur = &Message{TransactionID: pe.TransactionID}
					r.startBody(pe.TransactionID)
					r.skip = true
				}
				return Part{}, err
			}
			started = true
			r.head = append(r.head, line...)
			continue
		}
		if size+len(text) > r.maxHeader {
			return Part{}, &framingError{"header section larger than " + strconv.Itoa(r.maxHeader) + " bytes"}
		}
		tid := r.head[5:sl.tidEnd]
		isEnd := len(text) == 8+len(tid) && hasEndMark(text, tid) && isFlag(text[len(text)-1])
		if len(text) == 0 || isEnd {
			blk, err := decodeHead(string(r.head), sl, n)
			m := &blk.m
			if isEnd {
				m.Flag = text[len(text)-1]
				if err == nil && m.ContentType != "" {
					err = m.errorf(400, "Content-Type without a body")
				}
				if err == nil {
					err = finish(m)
				}
				if err != nil {
					return Part{}, err
				}
				return Part{Message: m, Final: true}, nil
			}
			m.HasBody = true
			r.cur = m
			r.startBody(m.TransactionID)
			if err == nil && m.ContentType == "" {
				err = m.errorf(400, "body without Content-Type")
			}
			if err != nil {
				r.skip = true
				return Part{}, err
			}
			return r.body()
		}
		r.head = append(r.head, line...)
		size += len(text)
		if n++; n > maxFields {
			return Part{}, &framingError{"too many header fields"}
		}
	}
}

func (r *Reader) startBody(tid string) {
	r.endLine = append(append(r.endLine[:0], "\r\n-------"...), tid...)
	r.offset, r.scanned = 0, 0
}

// body returns the next piece of the current message's body.
func (r *Reader) body() (Part, error) {
	m := r.cur
	n := len(r.endLine)
	for {
		buf, _ := r.br.Peek(r.br.Buffered())
		// RFC 4975 §7.1 puts a CRLF between the body and the end-line; an empty body written
		// without that CRLF is tolerated.
		if r.offset == 0 && len(buf) >= n+1 && bytes.Equal(buf[:n-2], r.endLine[2:]) &&
			isFlag(buf[n-2]) && buf[n-1] == '\r' && buf[n] == '\n' {
			return r.final(m, buf, 0, n+1, buf[n-2])
		}
		for {
			i := bytes.Index(buf[r.scanned:], r.endLine)
			if i < 0 {
				if s := len(buf) - n + 1; s > r.scanned {
					r.scanned = s
				}
				break
			}
			i += r.scanned
			if len(buf) < i+n+3 {
				r.scanned = i
				break // need more bytes to see the flag and CRLF
			}
			if isFlag(buf[i+n]) && buf[i+n+1] == '\r' && buf[i+n+2] == '\n' {
				if i > r.maxPiece {
					return r.piece(m, buf, r.maxPiece)
				}
				return r.final(m, buf, i, i+n+3, buf[i+n])
			}
			r.scanned = i + 1 // looked like the end-line but is body
		}
		// Bytes before scanned are body; hand them out once a whole piece is ready, or when
		// the buffer is full. One known body byte is kept back so the final part is never empty.
		if r.scanned-1 >= r.maxPiece {
			return r.piece(m, buf, r.maxPiece)
		}
		if len(buf) == r.br.Size() && r.scanned > 1 {
			return r.piece(m, buf, r.scanned-1)
		}
		if _, err := r.br.Peek(len(buf) + 1); err != nil {
			if err == io.EOF {
				return Part{}, io.ErrUnexpectedEOF
			}
			return Part{}, err
		}
	}
}

func (r *Reader) piece(m *Message, buf []byte, size int) (Part, error) {
	p := Part{Message: m, Body: buf[:size:size], Offset: r.offset}
	r.offset += int64(size)
	r.pending = size
	if m.Method != MethodSEND && r.offset > MaxNonSendBody && !r.skip {
		r.skip = true
		return Part{}, m.errorf(413, "non-SEND body larger than 10240 bytes")
	}
	return p, nil
}

func (r *Reader) final(m *Message, buf []byte, bodyLen, consumed int, flag byte) (Part, error) {
	p := Part{Message: m, Body: buf[:bodyLen:bodyLen], Offset: r.offset, Final: true}
	m.Flag = flag
	r.pending = consumed
	r.cur = nil
	r.offset += int64(bodyLen)
	if m.Method != MethodSEND && r.offset > MaxNonSendBody && !r.skip {
		return Part{}, m.errorf(413, "non-SEND body larger than 10240 bytes")
	}
	if !r.skip {
		if err := finish(m); err != nil {
			return Part{}, err
		}
	}
	return p, nil
}
