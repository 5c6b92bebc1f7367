// Command central is the kiosk warning system's central server.
//
//	central serve --data DIR --http ADDR --mqtt ADDR [--broker-url URL] [--enroll-token-file PATH]
//
// See docs/CENTRAL.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/atmguard/kiosk/central"
	"github.com/atmguard/kiosk/central/app"
	"github.com/atmguard/kiosk/central/keys"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "central:", err)
		os.Exit(1)
	}
}

const usage = `usage: central serve --data DIR --http ADDR (--mqtt ADDR | --broker-url URL) [flags]

Run central: the embedded MQTT broker (or an external one), the console and
admin API, the HTTP API for displays. See docs/CENTRAL.md.
`

func run(args []string) error {
	if len(args) == 0 || args[0] != "serve" {
		fmt.Fprint(os.Stderr, usage)
		return errors.New("unknown or missing command (want: serve)")
	}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(os.Stderr, usage); fs.PrintDefaults() }
	var (
		data        = fs.String("data", "", "data directory (database, broker state, keys); required")
		httpAddr    = fs.String("http", "", "HTTP listen address for the console, admin API and device API, e.g. :8080; required")
		mqttAddr    = fs.String("mqtt", "", "embedded MQTT broker listen address, e.g. :1883 (required unless --broker-url)")
		brokerURL   = fs.String("broker-url", "", "use this external broker (tcp://host:1883, ssl://...) instead of the embedded one")
		brokerUser  = fs.String("broker-user", "", "username for the external broker")
		brokerPwF   = fs.String("broker-password-file", "", "file holding the external broker password")
		publicURL   = fs.String("public-url", "", "central's URL as displays reach it (default http://<http address>)")
		publicMQTT  = fs.String("public-broker-url", "", "broker URL as displays reach it (default: the broker's address)")
		origins     = fs.String("allowed-origins", "", "comma-separated extra WebSocket origins for the console")
		tokenFile   = fs.String("enroll-token-file", "", "write a fresh one-time enrollment token (24 h) to this file at start (demo)")
		logLevel    = fs.String("log-level", "info", "debug, info, warn or error")
		snapshotTTL = fs.Duration("snapshot-ttl", 6*time.Hour, "lifetime of signed snapshots; they are re-signed at half of it")
	)
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *data == "" || *httpAddr == "" || (*mqttAddr == "" && *brokerURL == "") {
		fs.Usage()
		return errors.New("--data, --http and --mqtt (or --broker-url) are required; there are no defaults")
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))
	slog.SetDefault(log)
	cfg := app.Config{DataDir: *data, HTTPAddr: *httpAddr, MQTTAddr: *mqttAddr, BrokerURL: *brokerURL, BrokerUser: *brokerUser,
		PublicURL: *publicURL, PublicBrokerURL: *publicMQTT, Logger: log}
	cfg.Snapshot.TTL = *snapshotTTL
	if *brokerURL != "" {
		cfg.MQTTAddr = ""
	}
	if *brokerPwF != "" {
		b, err := os.ReadFile(*brokerPwF)
		if err != nil {
			return fmt.Errorf("--broker-password-file: %w", err)
		}
		cfg.BrokerPassword = strings.TrimSpace(string(b))
	}
	if *origins != "" {
		cfg.AllowedOrigins = strings.Split(*origins, ",")
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a, err := app.Start(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.Close()

	fmt.Printf("central: console at %s/  (broker %s)\n", a.URL(), a.BrokerURL())
	if a.AdminPassword != "" {
		fmt.Printf("central: first start: created user %q with password %s\n", "admin", a.AdminPassword)
		fmt.Println("central: this password is shown only now; you must change it at first login")
	}
	for _, p := range a.CreatedKeys {
		fmt.Printf("central: generated %s key in %s\n", p, a.Keys.Dir())
	}
	fmt.Printf("central: keys in %s (signing %s, provisioning %s)\n", a.Keys.Dir(),
		a.Keys.Signer(keys.Signing).KeyID(), a.Keys.Signer(keys.Provisioning).KeyID())
	if *tokenFile != "" {
		tok, rec, err := a.Enroll.CreateToken(ctx, central.System, central.EnrollTokenRequest{})
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(*tokenFile), 0o700); err != nil {
			return err
		}
		if err := os.WriteFile(*tokenFile, []byte(tok+"\n"), 0o600); err != nil {
			return fmt.Errorf("--enroll-token-file: %w", err)
		}
		fmt.Printf("central: one-time enrollment token %s written to %s (expires %s)\n", rec.ID, *tokenFile, rec.Expires.Format(time.RFC3339))
	}
	<-ctx.Done()
	fmt.Println("central: shutting down")
	return nil
}
