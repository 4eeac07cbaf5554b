package auth

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestEphemeralPassword(t *testing.T) {
	// RFC 2202 §3 test case 2 for HMAC-SHA1, then standard base64.
	mac, _ := hex.DecodeString("effcdf6ae5eb2fa2d27416d5f184df9c259a7c79")
	want := base64.StdEncoding.EncodeToString(mac)
	if got := EphemeralPassword([]byte("Jefe"), "what do ya want for nothing?"); got != want {
		t.Fatalf("EphemeralPassword = %q, want %q", got, want)
	}
	if !strings.HasSuffix(want, "=") || len(want) != 28 {
		t.Fatalf("expected padded std base64 of 20 bytes, got %q", want)
	}
}

func TestMintEphemeral(t *testing.T) {
	secret := []byte("app-secret")
	user, pass := MintEphemeral(secret, "alice", time.Unix(1735689600, 999_000_000))
	if user != "1735689600:alice" {
		t.Errorf("username = %q", user)
	}
	if pass != EphemeralPassword(secret, "1735689600:alice") {
		t.Errorf("password = %q", pass)
	}
}

func TestName(t *testing.T) {
	for in, want := range map[string]string{
		"1735689600:alice":       "alice",
		"alice":                  "alice",
		"1735689600:a:b":         "a:b",
		"1735689600:":            "1735689600:",
		":alice":                 ":alice",
		"12x:alice":              "12x:alice",
		"99999999999999999999:x": "99999999999999999999:x", // overflows int64
		"":                       "",
	} {
		if got := Name(in); got != want {
			t.Errorf("Name(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestStorePassword(t *testing.T) {
	clock := newClock()
	secret := []byte("k")
	users := map[string]string{"alice": "pw", "123:bob": "static"}
	s := NewStore(StoreConfig{Users: users, Secret: secret, Now: clock.Now})
	users["alice"] = "changed after NewStore" // must not leak in
	if s.Open() {
		t.Fatal("Open() = true")
	}
	valid, _ := MintEphemeral(secret, "carol", clock.Now().Add(time.Minute))
	expired, _ := MintEphemeral(secret, "carol", clock.Now().Add(-time.Second))

	tests := []struct {
		user, want string
		err        error
	}{
		{"alice", "pw", nil},
		{"nobody", "", ErrForbidden},
		{valid, EphemeralPassword(secret, valid), nil},
		{expired, "", ErrForbidden},
		// With a secret, digits-colon names are ephemeral, even if listed.
		{"123:bob", "", ErrForbidden},
	}
	for _, tc := range tests {
		got, err := s.Password(tc.user)
		if got != tc.want || !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
			t.Errorf("Password(%q) = %q, %v; want %q, %v", tc.user, got, err, tc.want, tc.err)
		}
	}

	// Without a secret, ephemeral names are just (unknown) names.
	noSecret := NewStore(StoreConfig{Users: map[string]string{"alice": "pw"}, Secret: []byte{}})
	if _, err := noSecret.Password(valid); !errors.Is(err, ErrForbidden) {
		t.Errorf("ephemeral without secret: err = %v, want ErrForbidden", err)
	}
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "users")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadUsersFile(t *testing.T) {
	path := writeFile(t, "# demo users\n"+
		"\n"+
		"alice:wonderland\n"+
		"   # indented comment\n"+
		"  bob:Circle Of Life  \r\n"+
		"\t\n"+
		"carol:a:b#c\n"+
		"zoë:ünïcode")
	users, err := LoadUsersFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"alice": "wonderland",
		"bob":   "Circle Of Life",
		"carol": "a:b#c",
		"zoë":   "ünïcode",
	}
	if !maps.Equal(users, want) {
		t.Fatalf("users = %q, want %q", users, want)
	}

	bom, err := LoadUsersFile(writeFile(t, "\ufeffalice:pw\r\n"))
	if err != nil || !maps.Equal(bom, map[string]string{"alice": "pw"}) {
		t.Fatalf("file with byte order mark: %q, %v", bom, err)
	}

	empty, err := LoadUsersFile(writeFile(t, "# nobody\n\n"))
	if err != nil || empty == nil || len(empty) != 0 {
		t.Fatalf("comment-only file: %q, %v", empty, err)
	}
}

func TestLoadUsersFileErrors(t *testing.T) {
	tests := []struct {
		name, content, want string
	}{
		{"missing colon", "alice:pw\n# ok\n\nbob\n", ":4: missing ':'"},
		{"empty name", "alice:pw\n:pw\n", ":2: empty user name"},
		{"empty password", "alice:\n", `:1: empty password for user "alice"`},
		{"space in name", "al ice:pw\n", `:1: user name "al ice"`},
		{"quote in name", "\"a\":pw\n", `:1: user name`},
		{"control char in password", "alice:p\x00w\n", `:1: password for user "alice" contains a control character`},
		{"duplicate", "alice:a\nbob:b\nalice:c\n", `:3: duplicate user "alice" (first on line 1)`},
		{"line too long", "alice:pw\n" + strings.Repeat("x", maxUsersLine+1) + "\n", ":2: line longer than"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, tc.content)
			users, err := LoadUsersFile(path)
			if err == nil {
				t.Fatalf("no error, users %q", users)
			}
			if !strings.HasPrefix(err.Error(), path+":") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want it to start with %q and contain %q", err, path+":", tc.want)
			}
		})
	}

	missing := filepath.Join(t.TempDir(), "absent")
	if _, err := LoadUsersFile(missing); !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing file: err = %v", err)
	}
}
