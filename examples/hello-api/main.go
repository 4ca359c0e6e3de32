// hello-api is goslim's bundled example: a small standard-library HTTP service
// with the needs a real one has. It calls out over TLS (so it needs CA roots),
// formats times in named zones (so it needs zoneinfo), logs JSON with log/slog,
// answers Kubernetes probes and shuts down gracefully on SIGTERM.
package main

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"
)

// version is stamped at build time: -ldflags "-X main.version=1.2.3".
var version = "dev"

func main() {
	showVersion := flag.Bool("version", false, "print the version and exit")
	flag.Parse()
	if *showVersion {
		fmt.Println("hello-api", version)
		return
	}
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	if err := run(log); err != nil {
		log.Error("exiting", "err", err)
		os.Exit(1)
	}
}

func run(log *slog.Logger) error {
	zoneName := envOr("DISPLAY_TZ", "Europe/Berlin")
	zone, err := time.LoadLocation(zoneName)
	if err != nil {
		return fmt.Errorf("load time zone %q (the image needs zoneinfo or -tags timetzdata): %w", zoneName, err)
	}
	roots, err := x509.SystemCertPool()
	if err != nil || len(roots.Subjects()) == 0 { //nolint:staticcheck // a count is all we log
		return errors.New("no CA roots found (the image needs /etc/ssl/certs/ca-certificates.crt)")
	}
	client := &http.Client{Timeout: 10 * time.Second}

	var ready atomic.Bool
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !ready.Load() {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	mux.HandleFunc("GET /api/hello", func(w http.ResponseWriter, r *http.Request) {
		name := r.URL.Query().Get("name")
		if name == "" {
			name = "world"
		}
		writeJSON(w, http.StatusOK, map[string]string{"message": "hello, " + name, "version": version})
	})
	mux.HandleFunc("GET /api/time", func(w http.ResponseWriter, r *http.Request) {
		loc := zone
		if q := r.URL.Query().Get("tz"); q != "" {
			if loc, err = time.LoadLocation(q); err != nil {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
				return
			}
		}
		writeJSON(w, http.StatusOK, map[string]string{"zone": loc.String(), "time": time.Now().In(loc).Format(time.RFC3339)})
	})
	// /api/fetch makes an outgoing TLS request, the reason this service needs CA roots.
	mux.HandleFunc("GET /api/fetch", func(w http.ResponseWriter, r *http.Request) {
		resp, err := client.Get(r.URL.Query().Get("url"))
		if err != nil {
			writeJSON(w, http.StatusBadGateway, map[string]string{"error": err.Error()})
			return
		}
		resp.Body.Close()
		writeJSON(w, http.StatusOK, map[string]any{"status": resp.StatusCode})
	})

	addr := ":" + envOr("PORT", "8080")
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()

	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	ready.Store(true)
	log.Info("listening", "addr", addr, "version", version, "zone", zone.String(), "ca_roots", len(roots.Subjects())) //nolint:staticcheck

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	ready.Store(false)
	log.Info("shutting down", "signal", "SIGTERM")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func envOr(key, fallback string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return fallback
}
