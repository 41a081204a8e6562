package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/syncwatch/syncwatch/config"
)

// pprofOptions serve Go's profiler on a separate, opt-in address, for
// finding where the CPU goes under load (docs/benchmarks.md). It is never on
// the API's address and, unlike the API, has no authentication: give it a
// loopback address.
type pprofOptions struct {
	listen string
}

func (o *pprofOptions) register(s *config.Set) {
	s.String(&o.listen, "pprof-listen", "", "serve Go's pprof profiler on this loopback address (e.g. 127.0.0.1:6060); empty for none")
}

// start serves the profiler when an address is set and returns the
// function that stops it.
func (o *pprofOptions) start(log logrus.FieldLogger) func() {
	if o.listen == "" {
		return func() {}
	}
	host, _, err := net.SplitHostPort(o.listen)
	if ip := net.ParseIP(host); err != nil || (host != "localhost" && (ip == nil || !ip.IsLoopback())) {
		log.WithField("pprof_listen", o.listen).Error("--pprof-listen must be a loopback address; the profiler is off")
		return func() {}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		log.WithError(err).Error("cannot serve pprof; the profiler is off")
		return func() {}
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.WithError(err).Warn("pprof server stopped")
		}
	}()
	log.WithField("pprof_listen", ln.Addr().String()).Warn("serving the pprof profiler")
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}
}
