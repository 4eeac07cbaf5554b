package gateway

import (
	"crypto/tls"
	"fmt"
	"log/slog"

	"github.com/simplegw/simplegw/bridge/auth"
	"github.com/simplegw/simplegw/bridge/relay"
	"github.com/simplegw/simplegw/bridge/sipedge"
)

// wire builds the real protocol engines from a validated cfg: one
// credential store and digest (realm = -domain) shared by SIP digest and
// MSRP AUTH, the MSRP relay and the SIP edge. This file is the only one in
// the package that knows the bridge packages.
func wire(cfg *Config, log *slog.Logger) (services, error) {
	var users map[string]string
	if cfg.UsersFile != "" {
		u, err := auth.LoadUsersFile(cfg.UsersFile)
		if err != nil {
			return services{}, wrapConfigError("users", err)
		}
		users = u
	}
	var secret []byte
	if cfg.AuthSecret != "" {
		secret = []byte(cfg.AuthSecret)
	}
	store := auth.NewStore(auth.StoreConfig{Users: users, Secret: secret, Open: cfg.openMode()})
	digest := auth.NewDigest(cfg.Domain, store)

	// Client side of outbound TLS (msrps peers, sips upstream): system roots.
	clientTLS := &tls.Config{MinVersion: tls.VersionTLS12}

	r, err := relay.New(relay.Config{
		Digest:     digest,
		PublicHost: cfg.PublicHost,
		TLSConfig:  clientTLS,
		Logger:     log.With("svc", "msrp"),
	})
	if err != nil {
		return services{}, fmt.Errorf("msrp relay: %w", err)
	}
	e, err := sipedge.New(sipedge.Config{
		Domain:    cfg.Domain,
		Upstream:  cfg.Upstream,
		Digest:    digest,
		TLSConfig: clientTLS,
		Logger:    log.With("svc", "sip"),
	})
	if err != nil {
		_ = r.Close()
		return services{}, fmt.Errorf("sip edge: %w", err)
	}
	return services{msrp: r, sip: e}, nil
}
