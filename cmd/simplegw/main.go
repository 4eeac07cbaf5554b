// Command simplegw is the gateway that brings web browsers into SIMPLE
// instant messaging: SIP over WebSocket (RFC 7118) toward a SIP core or an
// embedded registrar, and an MSRP relay (RFC 4976) for MSRP over WebSocket
// (RFC 7977) and TCP/TLS peers.
//
// This command only reads the configuration (flags, SIMPLEGW_* environment
// variables, a -config file) and runs package gateway. Once every listener
// is bound it prints one line to stdout,
//
//	simplegw ready http=127.0.0.1:PORT msrp=127.0.0.1:PORT sip=127.0.0.1:PORT
//
// (plus msrps= and sips= when enabled); logs go to stderr. SIGINT or
// SIGTERM shuts it down gracefully; a second signal kills it.
//
// Exit status: 0 after a graceful shutdown (or -h), 2 for a configuration
// error, 1 when a listener cannot be bound or shutdown fails.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/simplegw/simplegw/gateway"
)

// shutdownTimeout bounds the graceful shutdown after a signal.
const shutdownTimeout = 10 * time.Second

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second signal takes the default action: exit at once
	}()
	os.Exit(run(ctx, os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr))
}

// run is main without the process: it returns the exit status. It stops
// when ctx is done.
func run(ctx context.Context, args []string, lookupEnv func(string) (string, bool), stdout, stderr io.Writer) int {
	l, err := loadConfig(args, lookupEnv, stdout)
	if errors.Is(err, errUsage) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "simplegw: %v\n", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	l.cfg.Logger = log

	gw, err := gateway.New(l.cfg)
	if err != nil {
		fmt.Fprintf(stderr, "simplegw: %v\n", l.explain(err))
		return 2
	}
	if err := gw.Start(); err != nil {
		fmt.Fprintf(stderr, "simplegw: %v\n", l.explain(err))
		_ = gw.Shutdown(context.Background())
		return 1
	}
	fmt.Fprintln(stdout, gw.ReadyLine())

	<-ctx.Done()
	log.Info("signal received, shutting down", "timeout", shutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := gw.Shutdown(sctx); err != nil {
		log.Error("shutdown", "err", err)
		return 1
	}
	log.Info("stopped")
	return 0
}
