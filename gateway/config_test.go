package gateway

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

func validConfig() Config {
	return Config{
		HTTPAddr: "127.0.0.1:0",
		MSRPAddr: "127.0.0.1:0",
		SIPAddr:  "127.0.0.1:0",
		Domain:   "localhost",
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name     string
		mod      func(c *Config)
		wantFlag string // "" = valid
		wantMsg  []string
	}{
		{name: "defaults on loopback, open mode", mod: func(c *Config) {}},
		{name: "localhost is loopback", mod: func(c *Config) { c.HTTPAddr = "localhost:8080" }},
		{name: "profiler on loopback", mod: func(c *Config) { c.PprofAddr = "127.0.0.1:6060" }},
		{name: "profiler off loopback", mod: func(c *Config) { c.PprofAddr = "0.0.0.0:6060" },
			wantFlag: "pprof", wantMsg: []string{"-pprof", "loopback"}},
		{name: "IPv6 loopback", mod: func(c *Config) { c.SIPAddr = "[::1]:5060" }},
		{name: "http not host:port", mod: func(c *Config) { c.HTTPAddr = "x" },
			wantFlag: "http", wantMsg: []string{`-http: address "x" is not host:port`}},
		{name: "msrp port too big", mod: func(c *Config) { c.MSRPAddr = "127.0.0.1:65536" },
			wantFlag: "msrp", wantMsg: []string{"-msrp:", "65536"}},
		{name: "sip port not a number", mod: func(c *Config) { c.SIPAddr = "127.0.0.1:sip" },
			wantFlag: "sip", wantMsg: []string{"-sip:", `"sip"`}},
		{name: "signed port", mod: func(c *Config) { c.SIPAddr = "127.0.0.1:+5" },
			wantFlag: "sip"},
		{name: "bad host", mod: func(c *Config) { c.HTTPAddr = "a b:80" },
			wantFlag: "http"},
		{name: "msrps without cert", mod: func(c *Config) { c.MSRPSAddr = "127.0.0.1:0" },
			wantFlag: "msrps", wantMsg: []string{"-msrps needs -tls-cert and -tls-key"}},
		{name: "sips without cert", mod: func(c *Config) { c.SIPSAddr = "127.0.0.1:0" },
			wantFlag: "sips", wantMsg: []string{"-sips needs -tls-cert and -tls-key"}},
		{name: "bad msrps address", mod: func(c *Config) { c.MSRPSAddr = "nope" },
			wantFlag: "msrps", wantMsg: []string{`-msrps: address "nope" is not host:port`}},
		{name: "cert without key", mod: func(c *Config) { c.TLSCertFile = "c.pem" },
			wantFlag: "tls-cert", wantMsg: []string{"-tls-cert needs -tls-key"}},
		{name: "key without cert", mod: func(c *Config) { c.TLSKeyFile = "k.pem" },
			wantFlag: "tls-key", wantMsg: []string{"-tls-key needs -tls-cert"}},
		{name: "msrps with cert", mod: func(c *Config) {
			c.MSRPSAddr, c.SIPSAddr, c.TLSCertFile, c.TLSKeyFile = "127.0.0.1:0", "127.0.0.1:0", "c.pem", "k.pem"
		}},
		{name: "open mode off loopback (http)", mod: func(c *Config) { c.HTTPAddr = "0.0.0.0:8080"; c.Insecure = true },
			wantFlag: "users", wantMsg: []string{"-http", "-users", "-auth-secret", "loopback"}},
		{name: "open mode on every interface (sip)", mod: func(c *Config) { c.SIPAddr = ":5060"; c.Insecure = true },
			wantFlag: "users", wantMsg: []string{"-sip", "-users", "-auth-secret"}},
		{name: "open mode off loopback even with TLS", mod: func(c *Config) {
			c.MSRPSAddr, c.TLSCertFile, c.TLSKeyFile = "192.0.2.1:2856", "c.pem", "k.pem"
		}, wantFlag: "users", wantMsg: []string{"-msrps"}},
		{name: "names are not loopback", mod: func(c *Config) { c.HTTPAddr = "gw.example.com:80"; c.Insecure = true },
			wantFlag: "users"},
		{name: "plain http off loopback", mod: func(c *Config) { c.HTTPAddr = "0.0.0.0:8080"; c.AuthSecret = "s" },
			wantFlag: "http", wantMsg: []string{"-http", "-insecure", "-tls-cert", "RFC 7977 §5.1"}},
		{name: "plain http off loopback with -insecure", mod: func(c *Config) {
			c.HTTPAddr, c.AuthSecret, c.Insecure = "0.0.0.0:8080", "s", true
		}},
		{name: "https off loopback", mod: func(c *Config) {
			c.HTTPAddr, c.UsersFile, c.TLSCertFile, c.TLSKeyFile = "0.0.0.0:443", "users.txt", "c.pem", "k.pem"
		}},
		{name: "plain msrp off loopback", mod: func(c *Config) { c.MSRPAddr = "192.0.2.1:2855"; c.AuthSecret = "s" },
			wantFlag: "msrp", wantMsg: []string{"-msrp", "-insecure"}},
		{name: "plain sip off loopback", mod: func(c *Config) { c.SIPAddr = "[2001:db8::1]:5060"; c.UsersFile = "u" },
			wantFlag: "sip", wantMsg: []string{"-sip", "-insecure"}},
		{name: "plain msrp off loopback even with cert", mod: func(c *Config) {
			c.MSRPAddr, c.AuthSecret, c.TLSCertFile, c.TLSKeyFile = "192.0.2.1:2855", "s", "c.pem", "k.pem"
		}, wantFlag: "msrp"},
		{name: "msrps off loopback", mod: func(c *Config) {
			c.MSRPSAddr, c.AuthSecret, c.TLSCertFile, c.TLSKeyFile = "192.0.2.1:2856", "s", "c.pem", "k.pem"
		}},
		{name: "bad origin pattern", mod: func(c *Config) { c.Origins = []string{"ok.example", "[x"} },
			wantFlag: "origins", wantMsg: []string{"-origins", `"[x"`}},
		{name: "empty origin pattern", mod: func(c *Config) { c.Origins = []string{""} }, wantFlag: "origins"},
		{name: "origin patterns", mod: func(c *Config) { c.Origins = []string{"*.example.com", "https://app.example.org"} }},
		{name: "empty domain", mod: func(c *Config) { c.Domain = "" },
			wantFlag: "domain", wantMsg: []string{"-domain must not be empty"}},
		{name: "bad domain", mod: func(c *Config) { c.Domain = "a b" }, wantFlag: "domain"},
		{name: "IP domain", mod: func(c *Config) { c.Domain = "192.0.2.7" }},
		{name: "public host name", mod: func(c *Config) { c.PublicHost = "relay.example.com" }},
		{name: "public host IPv6", mod: func(c *Config) { c.PublicHost = "[2001:db8::2]" }},
		{name: "public host bare IPv6", mod: func(c *Config) { c.PublicHost = "2001:db8::2" }},
		{name: "public host with port", mod: func(c *Config) { c.PublicHost = "relay.example.com:2855" },
			wantFlag: "public-host", wantMsg: []string{"-public-host"}},
		{name: "upstream sip", mod: func(c *Config) { c.Upstream = "sip:core.example.com:5060;transport=tcp" }},
		{name: "upstream sips IPv6", mod: func(c *Config) { c.Upstream = "sips:[2001:db8::1]:5061" }},
		{name: "upstream with user", mod: func(c *Config) { c.Upstream = "sip:proxy@10.0.0.5" }},
		{name: "upstream http", mod: func(c *Config) { c.Upstream = "http://core" },
			wantFlag: "upstream", wantMsg: []string{`-upstream: "http://core" is not a sip: or sips: URI`}},
		{name: "upstream without host", mod: func(c *Config) { c.Upstream = "sip:" }, wantFlag: "upstream"},
		{name: "upstream with space", mod: func(c *Config) { c.Upstream = "sip:a b" }, wantFlag: "upstream"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.mod(&c)
			err := c.validate()
			if tt.wantFlag == "" {
				if err != nil {
					t.Fatalf("validate() = %v, want nil", err)
				}
				return
			}
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("validate() = %v, want *ConfigError for -%s", err, tt.wantFlag)
			}
			if ce.Flag != tt.wantFlag {
				t.Errorf("Flag = %q, want %q (msg %q)", ce.Flag, tt.wantFlag, ce.Msg)
			}
			if !strings.Contains(ce.Msg, "-"+tt.wantFlag) {
				t.Errorf("message %q does not name -%s", ce.Msg, tt.wantFlag)
			}
			for _, w := range tt.wantMsg {
				if !strings.Contains(ce.Msg, w) {
					t.Errorf("message %q does not contain %q", ce.Msg, w)
				}
			}
		})
	}
}

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:80":   true,
		"127.1.2.3:80":   true,
		"[::1]:80":       true,
		"localhost:80":   true,
		"LOCALHOST:80":   true,
		":80":            false,
		"0.0.0.0:80":     false,
		"[::]:80":        false,
		"192.0.2.1:80":   false,
		"example.com:80": false,
		"garbage":        false,
	} {
		if got := isLoopback(addr); got != want {
			t.Errorf("isLoopback(%q) = %v, want %v", addr, got, want)
		}
	}
}

func TestNewConfigErrors(t *testing.T) {
	dir := t.TempDir()
	t.Run("missing certificate", func(t *testing.T) {
		c := validConfig()
		c.MSRPSAddr = "127.0.0.1:0"
		c.TLSCertFile, c.TLSKeyFile = filepath.Join(dir, "none.pem"), filepath.Join(dir, "none.key")
		_, err := New(c)
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Flag != "tls-cert" || !strings.HasPrefix(ce.Msg, "-tls-cert/-tls-key: ") {
			t.Fatalf("New() = %v, want -tls-cert error", err)
		}
	})
	t.Run("missing users file", func(t *testing.T) {
		c := validConfig()
		c.UsersFile = filepath.Join(dir, "users.txt")
		_, err := New(c)
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Flag != "users" || !strings.HasPrefix(ce.Msg, "-users: open ") ||
			!strings.Contains(ce.Msg, "users.txt") {
			t.Fatalf("New() = %v, want \"-users: open …users.txt…\"", err)
		}
	})
	t.Run("validation first", func(t *testing.T) {
		c := validConfig()
		c.HTTPAddr = "x"
		if _, err := New(c); err == nil || err.Error() != `-http: address "x" is not host:port` {
			t.Fatalf("New() = %v", err)
		}
	})
}
