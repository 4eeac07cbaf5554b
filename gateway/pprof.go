package gateway

import (
	"net/http"
	"net/http/pprof"
)

// pprofMux serves Go's profiler (the -pprof listener), for finding where the relay and the
// SIP edge spend their time: `go tool pprof http://127.0.0.1:6060/debug/pprof/profile`.
func pprofMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}
