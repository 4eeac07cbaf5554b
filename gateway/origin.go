package gateway

import (
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/rs/cors"
)

// loopbackOriginPatterns are added to the allowed Origins when the HTTP
// listener is bound on loopback: a page served from localhost:3000 may then
// use a gateway on 127.0.0.1:8080. Brackets are escaped for path.Match.
var loopbackOriginPatterns = []string{
	"localhost", "localhost:*",
	"127.0.0.1", "127.0.0.1:*",
	`\[::1\]`, `\[::1\]:*`,
}

// originPolicy is the single Origin allow-list of the gateway. Its patterns
// go verbatim to coder/websocket's AcceptOptions.OriginPatterns, which
// enforces them on the WebSocket endpoints (403 on a mismatch); allowed
// answers the same question for CORS headers (rs/cors never blocks a
// request, it only decides which headers to add). Immutable after creation.
type originPolicy struct {
	patterns []string
}

func newOriginPolicy(cfg *Config) *originPolicy {
	var ps []string
	for _, p := range cfg.Origins {
		if p = strings.TrimSpace(p); p != "" {
			ps = append(ps, p)
		}
	}
	if isLoopback(cfg.HTTPAddr) {
		ps = append(ps, loopbackOriginPatterns...)
	}
	return &originPolicy{patterns: ps}
}

// allowed reports whether a request from origin may use the gateway. It
// mirrors coder/websocket v1.8 Accept: an empty Origin is allowed, an
// Origin whose host equals the request's Host is allowed (same origin),
// otherwise a pattern must match the Origin's host, or its scheme://host
// when the pattern contains "://"; matching is case-insensitive.
func (p *originPolicy) allowed(r *http.Request, origin string) bool {
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil {
		return false
	}
	if strings.EqualFold(r.Host, u.Host) {
		return true
	}
	for _, pat := range p.patterns {
		target := u.Host
		if strings.Contains(pat, "://") {
			target = u.Scheme + "://" + u.Host
		}
		if ok, err := path.Match(strings.ToLower(pat), strings.ToLower(target)); err == nil && ok {
			return true
		}
	}
	return false
}

// corsHeaderOnUpgrade adds Access-Control-Allow-Origin to the 101 response
// of a WebSocket handshake whose Origin is present and allowed
// (RFC 7977 §7). It must run before websocket.Accept writes the response.
func (p *originPolicy) corsHeaderOnUpgrade(w http.ResponseWriter, r *http.Request) {
	w.Header().Add("Vary", "Origin")
	origin := r.Header.Get("Origin")
	if origin != "" && p.allowed(r, origin) {
		w.Header().Set("Access-Control-Allow-Origin", origin)
	}
}

// corsHandler wraps h (static files, the browser library, /healthz) with
// CORS headers for allowed Origins, so that web apps on other origins can
// load the library and probe health.
func (p *originPolicy) corsHandler(h http.Handler) http.Handler {
	return cors.New(cors.Options{
		AllowOriginVaryRequestFunc: func(r *http.Request, origin string) (bool, []string) {
			return p.allowed(r, origin), nil
		},
		AllowedMethods: []string{http.MethodGet, http.MethodHead},
	}).Handler(h)
}
