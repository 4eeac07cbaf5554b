package auth

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// NonceTTL is how long a nonce issued by a Digest stays fresh. A response to
// an older nonce with the right password gets ErrStaleNonce (a re-challenge
// with stale=true), never a 403.
const NonceTTL = 5 * time.Minute

// Nonce layout: 8 bytes issue time (unix ns, big endian), 8 random bytes,
// then the first 16 bytes of HMAC-SHA256(key, realm 0x00 time random),
// encoded base64url without padding (43 characters, no '"' — RFC 2617 §3.2.1).
const (
	nonceRawLen = 32
	nonceMACLen = 16
)

// Digest is an RFC 2617 §3 Digest server restricted to algorithm MD5 and
// qop "auth" (RFC 4976 §9.1, RFC 3261 §22.4).
//
// Nonces are stateless: each is an issue time signed with a random key made
// by NewDigest, fresh for NonceTTL; nonce counts are not tracked, so within
// that time a nonce may be reused (RFC 2617 §3.3 allows this; replays are
// bounded by the TTL and prevented by TLS). A nonce that is not ours — forged,
// garbled, or issued by a previous process — is treated like an expired one:
// if the response digest is right for it, Verify returns ErrStaleNonce so that
// browsers silently recover after a restart; if it is wrong, ErrForbidden.
//
// A Digest is safe for concurrent use by multiple goroutines: its
// configuration is immutable after NewDigest and mu guards the record of
// nonce counts. Its clock is the Store's (StoreConfig.Now).
type Digest struct {
	realm string
	store *Store
	key   [32]byte
	// acceptNonce, when set (by tests only, before any use), replaces the
	// nonce freshness check.
	acceptNonce func(nonce string) bool

	mu sync.Mutex
	// counts holds the highest nonce-count accepted for each nonce still
	// fresh, so that a captured Authorization cannot be replayed (RFC 2617
	// §3.2.2: the server detects replays by watching nc).
	counts    map[string]uint32
	lastPrune time.Time
}

// maxTrackedNonces bounds the replay record; past it the oldest half is
// dropped (those nonces then read as stale and clients are re-challenged).
const maxTrackedNonces = 1 << 20

// countUp records that nonce was used with the nonce-count nc and reports
// whether nc is higher than every count seen with it before.
func (d *Digest) countUp(nonce, nc string) bool {
	n, err := strconv.ParseUint(nc, 16, 32)
	if err != nil {
		return false
	}
	now := d.store.now()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.counts == nil {
		d.counts = make(map[string]uint32)
	}
	if len(d.counts) >= maxTrackedNonces || now.Sub(d.lastPrune) > NonceTTL {
		for k := range d.counts {
			if !d.fresh(k) || len(d.counts) >= maxTrackedNonces/2 {
				delete(d.counts, k)
			}
		}
		d.lastPrune = now
	}
	if last, seen := d.counts[nonce]; seen && uint32(n) <= last {
		return false
	}
	d.counts[nonce] = uint32(n)
	return true
}

// NewDigest returns a Digest for realm that checks passwords from store.
// A single relay has one protection space, so its host name is a good realm
// (RFC 4976 §5.1). NewDigest panics if store is nil or realm is empty or holds
// control characters: both come from configuration, which the caller checks.
func NewDigest(realm string, store *Store) *Digest {
	if store == nil {
		panic("auth: NewDigest with nil Store")
	}
	if realm == "" || strings.ContainsFunc(realm, isControl) {
		panic(fmt.Sprintf("auth: NewDigest with invalid realm %q", realm))
	}
	d := &Digest{realm: realm, store: store}
	rand.Read(d.key[:]) // never fails (crypto/rand, Go ≥ 1.24)
	return d
}

// Realm returns the realm of the protection space.
func (d *Digest) Realm() string { return d.realm }

// Challenge returns a value for WWW-Authenticate (MSRP 401, SIP 401) or
// Proxy-Authenticate (SIP 407) with a new nonce (RFC 2617 §3.2.1):
//
//	Digest realm="…", nonce="…", qop="auth", algorithm=MD5[, stale=true]
//
// qop is always present and quoted (RFC 4976 §9.1, RFC 3261 §22.4 item 8);
// no domain, opaque, MD5-sess or auth-int is offered. Set stale after
// ErrStaleNonce.
func (d *Digest) Challenge(stale bool) string {
	v := "Digest realm=" + quote(d.realm) + ", nonce=" + quote(d.newNonce()) +
		`, qop="auth", algorithm=MD5`
	if stale {
		v += ", stale=true"
	}
	return v
}

// Credentials are what Verify has checked.
type Credentials struct {
	Username string // as sent; Name(Username) is the identity behind it
	Realm    string
	Nonce    string
	URI      string // the digest-uri used: the uri parameter, or Verify's defaultURI
	CNonce   string
	NC       string // nonce count, 8 hex digits
	QOP      string // "auth" (as sent, case preserved)

	// ha1 is H(A1) of the verified credentials, for rspauth; empty in open
	// mode, where no password is known.
	ha1 string
}

// Verify checks the value of an Authorization (or Proxy-Authorization)
// header sent with a request of the given method ("AUTH", "REGISTER",
// "INVITE", …), per RFC 2617 §3.2.2 with RFC 4976 §9.1 and RFC 3261 §22.4.
//
// The digest-uri is the header's uri parameter; when that is absent,
// defaultURI is used (for MSRP AUTH the rightmost To-Path URI, RFC 4976 §9.1).
// Verify does not compare the uri parameter with the request: RFC 3261 §22.4
// item 6 lets them differ; a caller who wants the RFC 2617 §3.2.2.5 check can
// compare Credentials.URI.
//
// Errors, in the order they are checked:
//   - ErrNoCredentials: authorization is empty or blank.
//   - ErrMalformed: unparsable; scheme not Digest; username, realm, nonce,
//     response (32 hex digits), qop, cnonce or nc (8 hex digits) missing or
//     ill-formed; no uri and no defaultURI; qop other than auth; algorithm
//     other than MD5.
//   - ErrForbidden: realm is not ours; then (except in open mode) the Store
//     refuses the user (unknown, expired ephemeral) or the response digest,
//     compared in constant time, is wrong.
//   - ErrStaleNonce: all else is right but the nonce is not a fresh one of
//     this Digest.
//
// In open mode the response is not checked (no password is known): any
// username with a well-formed header, our realm and a fresh nonce passes.
func (d *Digest) Verify(authorization, method, defaultURI string) (*Credentials, error) {
	if strings.TrimSpace(authorization) == "" {
		return nil, ErrNoCredentials
	}
	scheme, p, err := ParseParams(authorization)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if !strings.EqualFold(scheme, "Digest") {
		return nil, fmt.Errorf("%w: scheme %q, only Digest is accepted", ErrMalformed, scheme)
	}
	c := &Credentials{
		Username: p["username"],
		Realm:    p["realm"],
		Nonce:    p["nonce"],
		URI:      p["uri"],
		CNonce:   p["cnonce"],
		NC:       p["nc"],
		QOP:      p["qop"],
	}
	if _, ok := p["uri"]; !ok {
		c.URI = defaultURI
	}
	response := strings.ToLower(p["response"])
	_, hasRealm := p["realm"]
	var problem string
	switch {
	case c.Username == "":
		problem = "missing username"
	case !hasRealm:
		problem = "missing realm"
	case c.Nonce == "":
		problem = "missing nonce"
	case c.URI == "":
		problem = "missing uri"
	case len(response) != 32 || !isHex(response):
		problem = "response is not 32 hex digits"
	case c.QOP == "":
		problem = "missing qop (RFC 4976 §9.1)"
	case !strings.EqualFold(c.QOP, "auth"):
		problem = fmt.Sprintf("qop %q was not offered", c.QOP)
	case c.CNonce == "":
		problem = "missing cnonce (RFC 4976 §9.1)"
	case len(c.NC) != 8 || !isHex(c.NC):
		problem = "nc is not 8 hex digits (RFC 4976 §9.1)"
	}
	if alg, ok := p["algorithm"]; ok && !strings.EqualFold(alg, "MD5") && problem == "" {
		problem = fmt.Sprintf("algorithm %q was not offered", alg)
	}
	if problem != "" {
		return nil, fmt.Errorf("%w: %s", ErrMalformed, problem)
	}
	if c.Realm != d.realm {
		return nil, fmt.Errorf("%w: realm %q is not %q", ErrForbidden, c.Realm, d.realm)
	}

	if d.store.Open() {
		if !d.fresh(c.Nonce) || !d.countUp(c.Nonce, c.NC) {
			return nil, fmt.Errorf("%w: user %q", ErrStaleNonce, c.Username)
		}
		return c, nil
	}

	password, err := d.store.Password(c.Username)
	if err != nil {
		return nil, err
	}
	ha1 := hashA1(c.Username, c.Realm, password)
	want := requestDigest(ha1, c.Nonce, c.NC, c.CNonce, c.QOP, method, c.URI)
	if subtle.ConstantTimeCompare([]byte(want), []byte(response)) != 1 {
		return nil, fmt.Errorf("%w: wrong password for user %q", ErrForbidden, c.Username)
	}
	if !d.fresh(c.Nonce) {
		return nil, fmt.Errorf("%w: user %q", ErrStaleNonce, c.Username)
	}
	if !d.countUp(c.Nonce, c.NC) {
		// A replayed (or reordered) Authorization: re-challenge.
		return nil, fmt.Errorf("%w: nonce-count %s of user %q was used already", ErrStaleNonce, c.NC, c.Username)
	}
	c.ha1 = ha1
	return c, nil
}

// AuthenticationInfo returns the Authentication-Info value for the 200
// answering the request that Verify accepted as c (RFC 2617 §3.2.3):
//
//	nextnonce="…", rspauth="…", cnonce="…", nc=…, qop=auth
//
// rspauth proves that the server knows the password: it is the request-digest
// computed with A2 = ":" digest-uri. RFC 4976 §9.1 requires rspauth, cnonce,
// nc and qop on every 200 to AUTH; in open mode no password is known, so
// rspauth is omitted (clients that insist on mutual authentication will then
// refuse the open demo relay). nextnonce is a new fresh nonce the client
// should use next (RFC 4976 §9.1: AUTH is never pipelined). With c == nil only
// nextnonce is returned.
func (d *Digest) AuthenticationInfo(c *Credentials) string {
	v := "nextnonce=" + quote(d.newNonce())
	if c == nil {
		return v
	}
	if c.ha1 != "" {
		v += ", rspauth=" + quote(requestDigest(c.ha1, c.Nonce, c.NC, c.CNonce, c.QOP, "", c.URI))
	}
	return v + ", cnonce=" + quote(c.CNonce) + ", nc=" + c.NC + ", qop=" + c.QOP
}

// newNonce returns a fresh signed nonce.
func (d *Digest) newNonce() string {
	var raw [nonceRawLen]byte
	binary.BigEndian.PutUint64(raw[:8], uint64(d.store.now().UnixNano()))
	rand.Read(raw[8:16])
	copy(raw[16:], d.nonceMAC(raw[:16]))
	return base64.RawURLEncoding.EncodeToString(raw[:])
}

// fresh reports whether nonce was issued by d less than NonceTTL ago.
// A nonce more than NonceTTL in the future (the clock stepped back) is not
// fresh either.
func (d *Digest) fresh(nonce string) bool {
	if d.acceptNonce != nil {
		return d.acceptNonce(nonce)
	}
	if len(nonce) != base64.RawURLEncoding.EncodedLen(nonceRawLen) {
		return false
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(nonce)
	if err != nil || len(raw) != nonceRawLen {
		return false
	}
	if !hmac.Equal(raw[16:], d.nonceMAC(raw[:16])) {
		return false
	}
	issued := time.Unix(0, int64(binary.BigEndian.Uint64(raw[:8])))
	age := d.store.now().Sub(issued)
	return age <= NonceTTL && age >= -NonceTTL
}

func (d *Digest) nonceMAC(payload []byte) []byte {
	m := hmac.New(sha256.New, d.key[:])
	m.Write([]byte(d.realm))
	m.Write([]byte{0})
	m.Write(payload)
	return m.Sum(nil)[:nonceMACLen]
}

// h is H(data) = lower-case hex MD5 (RFC 2617 §3.1.3, §3.2.1).
func h(data string) string {
	sum := md5.Sum([]byte(data))
	return hex.EncodeToString(sum[:])
}

// hashA1 is H(A1) for algorithm MD5: H(username ":" realm ":" password)
// (RFC 2617 §3.2.2.2).
func hashA1(username, realm, password string) string {
	return h(username + ":" + realm + ":" + password)
}

// requestDigest is the qop=auth request-digest of RFC 2617 §3.2.2.1:
// KD(H(A1), nonce ":" nc ":" cnonce ":" qop ":" H(A2)) with
// A2 = method ":" uri (§3.2.2.3). With method "" it is the response-digest
// of Authentication-Info, whose A2 is ":" uri (§3.2.3).
func requestDigest(ha1, nonce, nc, cnonce, qop, method, uri string) string {
	return h(ha1 + ":" + nonce + ":" + nc + ":" + cnonce + ":" + qop + ":" + h(method+":"+uri))
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}
