package auth

import (
	"bufio"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// StoreConfig configures a Store. NewStore copies what it needs; changing
// the config afterwards has no effect.
type StoreConfig struct {
	// Users maps a user name to its password (see LoadUsersFile).
	Users map[string]string
	// Secret is the shared secret of ephemeral credentials (the -auth-secret
	// flag). Nil or empty disables ephemeral credentials.
	Secret []byte
	// Open turns on the demo mode: any name and password are accepted.
	// The caller must allow it only on loopback and log a warning.
	Open bool
	// Now is the clock used for ephemeral expiry and for nonce ages of the
	// Digests built on this Store. Nil means time.Now.
	Now func() time.Time
}

// Store is the credential source: it answers which password a username must
// prove. It is immutable after NewStore and safe for concurrent use by
// multiple goroutines.
type Store struct {
	users  map[string]string
	secret []byte
	open   bool
	now    func() time.Time
}

// NewStore returns a Store for cfg.
func NewStore(cfg StoreConfig) *Store {
	s := &Store{
		users: make(map[string]string, len(cfg.Users)),
		open:  cfg.Open,
		now:   cfg.Now,
	}
	for name, pw := range cfg.Users {
		s.users[name] = pw
	}
	if len(cfg.Secret) > 0 {
		s.secret = append([]byte(nil), cfg.Secret...)
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

// Open reports whether the store is in open demo mode.
func (s *Store) Open() bool { return s.open }

// Password returns the password that user must prove.
//
// In open mode it returns ("", nil) for every user: there is nothing to check.
// Otherwise, when ephemeral credentials are enabled and user has the form
// "EXPIRY:NAME", the expiry is checked first — credentials whose EXPIRY (unix
// seconds) lies before now are refused with ErrForbidden — and the password is
// EphemeralPassword(secret, user). Any other user is looked up in the static
// list; an unknown user gets ErrForbidden.
func (s *Store) Password(user string) (string, error) {
	if s.open {
		return "", nil
	}
	if expiry, _, ok := splitEphemeral(user); ok && s.secret != nil {
		if expiry < s.now().Unix() {
			return "", fmt.Errorf("%w: ephemeral credentials %q expired at %s",
				ErrForbidden, user, time.Unix(expiry, 0).UTC().Format(time.RFC3339))
		}
		return EphemeralPassword(s.secret, user), nil
	}
	if pw, ok := s.users[user]; ok {
		return pw, nil
	}
	return "", fmt.Errorf("%w: unknown user %q", ErrForbidden, user)
}

// EphemeralPassword returns the password of the ephemeral username:
// base64(HMAC-SHA1(secret, username)) in standard encoding with padding, the
// convention of TURN REST credentials and Kamailio's autheph module.
func EphemeralPassword(secret []byte, username string) string {
	m := hmac.New(sha1.New, secret)
	m.Write([]byte(username))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// MintEphemeral returns ephemeral credentials for name that are valid until
// expires (to the second): username "EXPIRY:NAME" and its EphemeralPassword.
// A web application does this server-side and hands both to its user's page.
func MintEphemeral(secret []byte, name string, expires time.Time) (username, password string) {
	username = strconv.FormatInt(expires.Unix(), 10) + ":" + name
	return username, EphemeralPassword(secret, username)
}

// Name is the identity behind a username: NAME for an ephemeral username
// "EXPIRY:NAME" ("1735689600:alice" → "alice"), the username itself otherwise
// ("alice" → "alice"). It does not check the credentials.
func Name(username string) string {
	if _, name, ok := splitEphemeral(username); ok {
		return name
	}
	return username
}

// splitEphemeral splits "EXPIRY:NAME" where EXPIRY is a decimal number of
// unix seconds and NAME is not empty.
func splitEphemeral(username string) (expiry int64, name string, ok bool) {
	i := strings.IndexByte(username, ':')
	if i <= 0 || i == len(username)-1 {
		return 0, "", false
	}
	for _, c := range []byte(username[:i]) {
		if c < '0' || c > '9' {
			return 0, "", false
		}
	}
	expiry, err := strconv.ParseInt(username[:i], 10, 64)
	if err != nil {
		return 0, "", false
	}
	return expiry, username[i+1:], true
}

// maxUsersLine bounds one line of a users file.
const maxUsersLine = 4096

// LoadUsersFile reads a users file: one "name:password" per line, split at
// the first colon. Surrounding white space of a line is ignored, so a password
// can neither start nor end with white space; blank lines and lines whose first
// non-blank character is '#' are skipped, as is a UTF-8 byte order mark at
// the start of the file. A name must not contain white space,
// control characters, '"' or '\'; a password must not be empty nor contain
// control characters; a name may appear once. Errors name the file and line.
func LoadUsersFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()

	users := make(map[string]string)
	firstLine := make(map[string]int)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 256), maxUsersLine)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if n == 1 {
			line = strings.TrimPrefix(line, "\ufeff") // UTF-8 byte order mark
		}
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		name, pw, found := strings.Cut(line, ":")
		switch {
		case !found:
			return nil, fmt.Errorf("%s:%d: missing ':' (want name:password)", path, n)
		case name == "":
			return nil, fmt.Errorf("%s:%d: empty user name", path, n)
		case strings.ContainsFunc(name, badNameRune):
			return nil, fmt.Errorf("%s:%d: user name %q contains white space, a control character, '\"' or '\\'", path, n, name)
		case pw == "":
			return nil, fmt.Errorf("%s:%d: empty password for user %q", path, n, name)
		case strings.ContainsFunc(pw, isControl):
			return nil, fmt.Errorf("%s:%d: password for user %q contains a control character", path, n, name)
		}
		if first, dup := firstLine[name]; dup {
			return nil, fmt.Errorf("%s:%d: duplicate user %q (first on line %d)", path, n, name, first)
		}
		firstLine[name] = n
		users[name] = pw
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("%s:%d: line longer than %d bytes", path, n+1, maxUsersLine)
		}
		return nil, fmt.Errorf("%s:%d: %w", path, n+1, err)
	}
	return users, nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

func badNameRune(r rune) bool {
	return isControl(r) || unicode.IsSpace(r) || r == '"' || r == '\\'
}
