package msrp

import (
	"bytes"
	"crypto/rand"
)

const identAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

// NewIdent returns a random identifier of 16 characters from [a-z0-9], about 82 bits of
// randomness: more than the 64 bits RFC 4975 §7.1 requires of a transaction id, and a valid
// Message-ID (ident, RFC 4975 §9). It uses crypto/rand.
func NewIdent() string {
	var b [16]byte
	rand.Read(b[:])
	for i := range b {
		b[i] = identAlphabet[int(b[i])%len(identAlphabet)]
	}
	return string(b[:])
}

// NewTransactionID returns a fresh transaction id whose end-line does not occur in body, as
// RFC 4975 §7.1 requires of a sender ("the sender MUST ensure that the end-line ... is not
// present in the body").
func NewTransactionID(body []byte) string {
	for {
		tid := NewIdent()
		if len(body) < 7+len(tid) || !containsEndLine(body, tid) {
			return tid
		}
	}
}

func containsEndLine(body []byte, tid string) bool {
	var mark [7 + 32]byte
	n := copy(mark[:], "-------")
	n += copy(mark[n:], tid)
	return bytes.Contains(body, mark[:n])
}
