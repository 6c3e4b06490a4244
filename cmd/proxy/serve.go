package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/llmproxy/proxy/proxy"
	"github.com/llmproxy/proxy/proxy/admin"
	"github.com/llmproxy/proxy/proxy/config"
	"github.com/llmproxy/proxy/proxy/sdnotify"
	"github.com/llmproxy/proxy/proxy/signin"
	"github.com/redis/go-redis/v9"
	"github.com/spf13/pflag"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

func serve(args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	path := fs.StringP("config", "c", "config.yaml", "configuration file (optional when the default path is missing)")
	showVersion := fs.Bool("version", false, "print the version and exit")
	config.RegisterFlags(fs)
	if code := parseFlags(fs, args, "proxy [serve] [--config FILE] [flags]", stdout, stderr); code >= 0 {
		return code
	}
	if *showVersion {
		fmt.Fprintln(stdout, "proxy", version())
		return 0
	}
	cfg, err := config.Load(config.Source{
		Path:     *path,
		Required: fs.Changed("config"),
		Environ:  os.Environ(),
		Flags:    fs,
	})
	if err != nil {
		fmt.Fprintln(stderr, "proxy:", err)
		return 1
	}
	log, flush, err := newLogger(cfg.Log, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "proxy:", err)
		return 1
	}
	defer flush()
	redis.SetLogger(newRedisLog(log.Named("redis"), nil)) // go-redis's one logger, process-wide
	if fs.Changed("api-keys") {
		log.Warn("client keys given with --api-keys are visible to every local user in /proc/PID/cmdline (and in pprof's cmdline); prefer PROXY_SERVER_API_KEYS or the config file")
	}
	// Every signal handler is in place before the port opens and before
	// READY=1: systemd sends SIGHUP for a reload as soon as it sees READY,
	// and a SIGHUP with no handler kills the process.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	srv, err := proxy.New(cfg, log)
	if err != nil {
		log.Error("cannot start", zap.Error(err))
		return 1
	}
	ln, err := net.Listen("tcp", srv.Addr())
	if err != nil {
		log.Error("cannot listen", zap.String("addr", srv.Addr()), zap.Error(err))
		return 1
	}
	log.Info("listening", zap.String("addr", ln.Addr().String()), zap.String("version", version()),
		zap.Int("providers", len(cfg.Providers)-len(skippedProviders(cfg))), zap.Strings("skipped_providers", skippedProviders(cfg)))

	// reload loads the file, environment and flags again; an invalid result
	// keeps the running configuration.
	reload := func(why string) error {
		// systemd shows the unit as reloading until READY=1 comes back.
		_ = sdnotify.Reloading()
		defer func() { _ = sdnotify.Ready() }()
		next, err := config.Load(config.Source{Path: *path, Required: fs.Changed("config"), Environ: os.Environ(), Flags: fs})
		if err == nil {
			err = srv.Reload(next)
		}
		if err != nil {
			log.Error("configuration not reloaded; keeping the running one", zap.String("trigger", why), zap.Error(err))
			return err
		}
		_ = sdnotify.Status(statusLine(ln.Addr().String(), next))
		log.Info("configuration reloaded", zap.String("trigger", why))
		return nil
	}
	if cfg.Server.AdminAddr != "" {
		// A signed-in account is loaded by a reload: its file's name is new,
		// so its provider is built again with it.
		signins := signin.NewManager(signin.Options{Providers: srv.ProviderConfigs,
			Saved: func(string) error { return reload("account signed in") }, Log: log.Named("signin")})
		defer signins.Close()
		api := admin.New(admin.Options{
			Key: cfg.Admin.Key, PasswordHash: cfg.Admin.PasswordHash, SessionTTL: cfg.Admin.SessionTTL,
			Tenants: srv.Tenants(), Providers: srv.Health, Config: srv.ConfigJSON,
			Reload: func() error { return reload("admin API") }, Log: log.Named("admin"), SignIns: signins,
		})
		stopAdmin, err := startAdmin(cfg.Server.AdminAddr, log, api, cfg.Server.AllowedHosts)
		if err != nil {
			log.Error("cannot start the admin listener", zap.String("addr", cfg.Server.AdminAddr), zap.Error(err))
			return 1
		}
		defer stopAdmin()
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	// systemd (Type=notify) counts the service as started from here.
	if err := sdnotify.Ready(); err != nil {
		log.Warn("sd_notify READY failed", zap.Error(err))
	}
	_ = sdnotify.Status(statusLine(ln.Addr().String(), cfg))
	stopWatch := make(chan struct{})
	defer close(stopWatch)
	var changed <-chan struct{}
	if *path != "" {
		changed = watchFile(*path, 2*time.Second, stopWatch)
	}
wait:
	for {
		select {
		case err := <-served:
			if err != nil {
				log.Error("server stopped", zap.Error(err))
				return 1
			}
			return 0
		case <-changed:
			_ = reload("file changed")
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				_ = reload("SIGHUP")
				continue
			}
			log.Info("shutting down", zap.String("signal", sig.String()), zap.Duration("grace", cfg.Server.ShutdownGrace))
			break wait
		}
	}
	_ = sdnotify.Stopping()
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Server.ShutdownGrace)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			log.Warn("shutdown grace period over; closing remaining connections", zap.Int32("open", srv.OpenConnections()))
			return 0
		}
		log.Error("shutdown", zap.Error(err))
		return 1
	}
	log.Info("stopped")
	return 0
}

// newLogger builds the zap logger: JSON, or console on a terminal. Lines are
// buffered and flushed every second so that the access log costs no write
// syscall per request.
func newLogger(c config.Log, out io.Writer) (*zap.Logger, func(), error) {
	level, err := zapcore.ParseLevel(c.Level)
	if err != nil {
		return nil, nil, fmt.Errorf("log.level: %w", err)
	}
	format := c.Format
	if format == "auto" {
		format = "json"
		if f, ok := out.(*os.File); ok {
			if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
				format = "console"
			}
		}
	}
	encCfg := zap.NewProductionEncoderConfig()
	encCfg.EncodeTime = zapcore.ISO8601TimeEncoder
	encCfg.EncodeDuration = zapcore.StringDurationEncoder
	var enc zapcore.Encoder
	if format == "console" {
		encCfg.EncodeLevel = zapcore.CapitalColorLevelEncoder
		enc = zapcore.NewConsoleEncoder(encCfg)
	} else {
		enc = zapcore.NewJSONEncoder(encCfg)
	}
	ws := &zapcore.BufferedWriteSyncer{WS: zapcore.AddSync(out), Size: 256 << 10, FlushInterval: time.Second}
	core := zapcore.NewCore(enc, ws, level)
	log := zap.New(core, zap.ErrorOutput(zapcore.AddSync(out)))
	return log, func() { _ = log.Sync(); _ = ws.Stop() }, nil
}

// skippedProviders names the providers left out for lack of keys.
// statusLine is what `systemctl status` shows under the unit.
func statusLine(addr string, cfg *config.Config) string {
	line := fmt.Sprintf("serving on %s: %d providers", addr, len(cfg.Providers)-len(skippedProviders(cfg)))
	if sk := skippedProviders(cfg); len(sk) > 0 {
		line += fmt.Sprintf(" (%d skipped for lack of keys)", len(sk))
	}
	return line
}

func skippedProviders(cfg *config.Config) []string {
	var out []string
	for _, p := range cfg.Providers {
		if proxy.SkipReason(&p) != "" {
			out = append(out, p.Name)
		}
	}
	return out
}
