// realistic-api is goslim's second example: a service built on popular third-party
// modules (chi router, Prometheus metrics, zerolog, a gRPC health server), so that
// sizes, SBOMs and scans are measured on something close to a real production binary.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

var version = "dev"

var requests = promauto.NewCounterVec(prometheus.CounterOpts{
	Name: "realistic_api_requests_total",
	Help: "HTTP requests by route and status.",
}, []string{"route", "code"})

func main() {
	showVersion := flag.Bool("version", false, "print the version and exit")
	flag.Parse()
	if *showVersion {
		fmt.Println("realistic-api", version)
		return
	}
	log := zerolog.New(os.Stdout).With().Timestamp().Str("service", "realistic-api").Logger()
	if err := run(log); err != nil {
		log.Error().Err(err).Msg("exiting")
		os.Exit(1)
	}
}

func run(log zerolog.Logger) error {
	var ready atomic.Bool
	r := chi.NewRouter()
	r.Use(middleware.RequestID, middleware.Recoverer)
	r.Get("/healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })
	r.Get("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !ready.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ready\n"))
	})
	r.Get("/api/items/{id}", func(w http.ResponseWriter, req *http.Request) {
		requests.WithLabelValues("/api/items/{id}", "200").Inc()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, "{\"id\":%q,\"version\":%q}\n", chi.URLParam(req, "id"), version)
	})
	r.Handle("/metrics", promhttp.Handler())

	httpSrv := &http.Server{Addr: ":" + envOr("PORT", "8080"), Handler: r, ReadHeaderTimeout: 5 * time.Second}
	grpcSrv := grpc.NewServer()
	healthSrv := health.NewServer()
	healthpb.RegisterHealthServer(grpcSrv, healthSrv)
	lis, err := net.Listen("tcp", ":"+envOr("GRPC_PORT", "9090"))
	if err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	errc := make(chan error, 2)
	go func() { errc <- httpSrv.ListenAndServe() }()
	go func() { errc <- grpcSrv.Serve(lis) }()
	ready.Store(true)
	healthSrv.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	log.Info().Str("http", httpSrv.Addr).Str("grpc", lis.Addr().String()).Str("version", version).Msg("listening")

	select {
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	case <-ctx.Done():
	}
	ready.Store(false)
	healthSrv.Shutdown()
	log.Info().Msg("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	grpcSrv.GracefulStop()
	if err := httpSrv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	log.Info().Msg("stopped")
	return nil
}

func envOr(key, fallback string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return fallback
}
