package gateway

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"path"
	"strings"
)

// Config is everything the gateway needs. Its fields mirror the simplegw
// command-line flags one to one; errors about a field name the flag
// (see ConfigError), so that a user of the binary can act on them.
type Config struct {
	// HTTPAddr is the host:port of the HTTP listener (-http): static files,
	// /healthz and the /sip and /msrp WebSocket endpoints. It serves HTTPS
	// (so wss://) when TLSCertFile and TLSKeyFile are set.
	HTTPAddr string
	// MSRPAddr is the host:port of the plain msrp:// relay listener (-msrp).
	MSRPAddr string
	// MSRPSAddr is the host:port of the msrps:// relay listener (-msrps);
	// empty disables it. Needs TLSCertFile and TLSKeyFile.
	MSRPSAddr string
	// SIPAddr is the host:port where SIP is served on both UDP and TCP (-sip).
	SIPAddr string
	// SIPSAddr is the host:port of the SIP-over-TLS listener (-sips); empty
	// disables it. Needs TLSCertFile and TLSKeyFile.
	SIPSAddr string
	// TLSCertFile and TLSKeyFile are PEM files (-tls-cert, -tls-key) used by
	// every TLS listener: HTTPS, msrps and sips.
	TLSCertFile, TLSKeyFile string
	// Upstream is the SIP URI of the SIP core (-upstream); empty selects the
	// embedded registrar/proxy.
	Upstream string
	// Domain is the SIP domain served by the embedded registrar and the
	// digest realm of SIP and MSRP authentication (-domain).
	Domain string
	// UsersFile is a file of name:password lines (-users).
	UsersFile string
	// AuthSecret is the shared secret of ephemeral credentials (-auth-secret).
	AuthSecret string
	// PublicHost is the host name the MSRP relay puts in Use-Path
	// (-public-host); empty means the relay listener's own address.
	PublicHost string
	// Origins are extra allowed Origin patterns for the WebSocket endpoints
	// and CORS (-origins), matched like coder/websocket's OriginPatterns:
	// path.Match against the Origin's host, or against scheme://host when
	// the pattern contains "://". Same-origin requests are always allowed,
	// and loopback origins are added when HTTPAddr is on loopback.
	Origins []string
	// Insecure allows plain ws://, msrp:// and SIP on non-loopback
	// addresses (-insecure). RFC 7977 §5.1 and §9 require WSS for MSRP.
	Insecure bool
	// PprofAddr is a loopback host:port serving Go's profiler
	// (net/http/pprof) under /debug/pprof/ (-pprof); empty disables it.
	PprofAddr string
	// Logger receives the gateway's logs; nil discards them.
	Logger *slog.Logger
}

// ConfigError is an invalid setting. Flag is the simplegw flag at fault
// (without the dash, e.g. "msrps"); Msg names it too, ready to be shown to
// a user, e.g. "-msrps needs -tls-cert and -tls-key".
type ConfigError struct {
	Flag string
	Msg  string
	Err  error // the underlying error, if any
}

func (e *ConfigError) Error() string { return e.Msg }
func (e *ConfigError) Unwrap() error { return e.Err }

func configErrorf(flag, format string, args ...any) *ConfigError {
	return &ConfigError{Flag: flag, Msg: fmt.Sprintf(format, args...)}
}

// wrapConfigError names flag in front of err: "-users: open x: no such file".
func wrapConfigError(flag string, err error) *ConfigError {
	return &ConfigError{Flag: flag, Msg: "-" + flag + ": " + err.Error(), Err: err}
}

// listenerSpec describes one configured listener: its flag, address, and
// whether the bytes on it are protected by TLS.
type listenerSpec struct {
	flag string
	addr string
	tls  bool
}

// listeners returns the enabled listeners of c in ready-line order.
func (c *Config) listeners() []listenerSpec {
	hasTLS := c.TLSCertFile != "" && c.TLSKeyFile != ""
	specs := []listenerSpec{
		{"http", c.HTTPAddr, hasTLS},
		{"msrp", c.MSRPAddr, false},
		{"sip", c.SIPAddr, false},
	}
	if c.MSRPSAddr != "" {
		specs = append(specs, listenerSpec{"msrps", c.MSRPSAddr, true})
	}
	if c.SIPSAddr != "" {
		specs = append(specs, listenerSpec{"sips", c.SIPSAddr, true})
	}
	return specs
}

// openMode reports whether c runs with open demo credentials: no users file
// and no ephemeral-credential secret, so any name/password is accepted.
func (c *Config) openMode() bool { return c.UsersFile == "" && c.AuthSecret == "" }

// validate checks c without touching the file system or the network. The
// order is fixed so that the first error is the most basic one: address
// syntax, TLS files, credentials, then transport security.
func (c *Config) validate() error {
	for _, l := range c.listeners() {
		if err := checkHostPort(l.flag, l.addr); err != nil {
			return err
		}
	}
	if c.TLSCertFile != "" && c.TLSKeyFile == "" {
		return configErrorf("tls-cert", "-tls-cert needs -tls-key")
	}
	if c.TLSKeyFile != "" && c.TLSCertFile == "" {
		return configErrorf("tls-key", "-tls-key needs -tls-cert")
	}
	hasTLS := c.TLSCertFile != ""
	if c.MSRPSAddr != "" && !hasTLS {
		return configErrorf("msrps", "-msrps needs -tls-cert and -tls-key")
	}
	if c.SIPSAddr != "" && !hasTLS {
		return configErrorf("sips", "-sips needs -tls-cert and -tls-key")
	}
	if c.PprofAddr != "" {
		if err := checkHostPort("pprof", c.PprofAddr); err != nil {
			return err
		}
		if !isLoopback(c.PprofAddr) {
			return configErrorf("pprof", "-pprof %q: the profiler is served only on a loopback address", c.PprofAddr)
		}
	}
	if err := checkHostName("domain", c.Domain, false); err != nil {
		return err
	}
	if err := checkHostName("public-host", c.PublicHost, true); err != nil {
		return err
	}
	if err := checkSIPURI("upstream", c.Upstream); err != nil {
		return err
	}
	for _, p := range c.Origins {
		if p == "" {
			return configErrorf("origins", "-origins: empty pattern")
		}
		if _, err := path.Match(strings.ToLower(p), ""); err != nil {
			return configErrorf("origins", "-origins: bad pattern %q: %v", p, err)
		}
	}
	if c.openMode() {
		for _, l := range c.listeners() {
			if !isLoopback(l.addr) {
				return configErrorf("users",
					"-%s %q is not a loopback address: open demo credentials are allowed only on loopback; set -users or -auth-secret",
					l.flag, l.addr)
			}
		}
	}
	if !c.Insecure {
		for _, l := range c.listeners() {
			if l.tls || isLoopback(l.addr) {
				continue
			}
			switch l.flag {
			case "http":
				return configErrorf("http", "-http %q: plain ws:// off loopback needs -tls-cert and -tls-key (RFC 7977 §5.1 requires WSS) or -insecure", l.addr)
			case "msrp":
				return configErrorf("msrp", "-msrp %q: plain msrp:// off loopback needs -insecure (use -msrps for TLS)", l.addr)
			case "sip":
				return configErrorf("sip", "-sip %q: plain SIP (UDP/TCP) off loopback needs -insecure (use -sips for TLS)", l.addr)
			}
		}
	}
	return nil
}

// checkHostPort accepts "host:port" with a numeric port 0–65535 (0 picks a
// free port) and an empty host meaning every interface.
func checkHostPort(flag, addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return configErrorf(flag, "-%s: address %q is not host:port", flag, addr)
	}
	if !validPort(port) {
		return configErrorf(flag, "-%s: address %q: port %q is not a number 0-65535", flag, addr, port)
	}
	if host != "" && net.ParseIP(host) == nil && !validHostName(host) {
		return configErrorf(flag, "-%s: address %q: bad host %q", flag, addr, host)
	}
	return nil
}

// validPort reports whether p is a decimal number 0–65535, digits only.
func validPort(p string) bool {
	if p == "" || len(p) > 5 {
		return false
	}
	n := 0
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return false
		}
		n = n*10 + int(p[i]-'0')
	}
	return n <= 65535
}

// checkHostName accepts a DNS name or an IP address (IPv6 with or without
// brackets); empty is accepted only when emptyOK.
func checkHostName(flag, h string, emptyOK bool) error {
	if h == "" {
		if emptyOK {
			return nil
		}
		return configErrorf(flag, "-%s must not be empty", flag)
	}
	bare := h
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		bare = h[1 : len(h)-1]
		if ip := net.ParseIP(bare); ip == nil || ip.To4() != nil {
			return configErrorf(flag, "-%s: %q is not a host name or IP address", flag, h)
		}
		return nil
	}
	if net.ParseIP(bare) == nil && !validHostName(bare) {
		return configErrorf(flag, "-%s: %q is not a host name or IP address", flag, h)
	}
	return nil
}

// validHostName reports whether s is a DNS name: dot-separated labels of
// letters, digits and inner hyphens (RFC 1123 §2.1), at most 253 bytes.
func validHostName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(s, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			b := label[i]
			if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '-') {
				return false
			}
		}
	}
	return true
}

// checkSIPURI accepts empty (embedded registrar) or a sip:/sips: URI with a
// host (RFC 3261 §19.1.1); the SIP edge validates the rest.
func checkSIPURI(flag, u string) error {
	if u == "" {
		return nil
	}
	scheme, rest, ok := strings.Cut(u, ":")
	if !ok || !strings.EqualFold(scheme, "sip") && !strings.EqualFold(scheme, "sips") {
		return configErrorf(flag, "-%s: %q is not a sip: or sips: URI", flag, u)
	}
	if i := strings.LastIndexByte(rest, '@'); i >= 0 {
		rest = rest[i+1:]
	}
	if i := strings.IndexAny(rest, ";?"); i >= 0 {
		rest = rest[:i]
	}
	host := rest
	if h, _, err := net.SplitHostPort(rest); err == nil {
		host = h
	}
	if checkHostName(flag, host, false) != nil || strings.ContainsAny(u, " \t\r\n") {
		return configErrorf(flag, "-%s: %q is not a sip: or sips: URI with a host", flag, u)
	}
	return nil
}

// isLoopback reports whether addr's host is "localhost" or a loopback IP.
// An empty host (every interface) and other names are not loopback: a name
// may resolve anywhere.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// loadTLS loads the server certificate shared by every TLS listener.
func loadTLS(c *Config) (*tls.Config, error) {
	if c.TLSCertFile == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(c.TLSCertFile, c.TLSKeyFile)
	if err != nil {
		return nil, &ConfigError{Flag: "tls-cert", Msg: "-tls-cert/-tls-key: " + err.Error(), Err: err}
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}
