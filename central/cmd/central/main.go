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
	"github.com/atmguard/kiosk/deploy/sdnotify"
	"github.com/atmguard/kiosk/internal/clock"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "central:", err)
		os.Exit(1)
	}
}

const usage = `usage:
  central serve --data DIR --http ADDR (--mqtt ADDR | --broker-url URL) [flags]
  central keys list|add|rotate --data DIR [--purpose signing|provisioning]
  central keys activate|remove KID --data DIR [--purpose signing|provisioning]

serve runs central: the embedded MQTT broker (or an external one), the
console and admin API, the HTTP API for displays. keys manages the signing
and provisioning keys (stop central first: it reads them at start).
See docs/CENTRAL.md.
`

func run(args []string) error {
	if len(args) > 0 && args[0] == "keys" {
		return runKeys(args[1:])
	}
	if len(args) == 0 || args[0] != "serve" {
		fmt.Fprint(os.Stderr, usage)
		return errors.New("unknown or missing command (want: serve or keys)")
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
		unenrolled  = fs.Bool("accept-unenrolled", false, "take devices central did not enroll into the fleet from their statuses (external broker with device accounts managed elsewhere)")
		publicURL   = fs.String("public-url", "", "central's URL as displays reach it (default http://<http address>)")
		publicMQTT  = fs.String("public-broker-url", "", "broker URL as displays reach it (default: the broker's address)")
		origins     = fs.String("allowed-origins", "", "comma-separated extra WebSocket origins for the console")
		tokenFile   = fs.String("enroll-token-file", "", "write a fresh one-time enrollment token (24 h) to this file at start (demo)")
		logLevel    = fs.String("log-level", "info", "debug, info, warn or error")
		dispFont    = fs.String("display-font", "", "font file the displays use (their display.font), e.g. /usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc; previews and the fit check use it")
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
		PublicURL: *publicURL, PublicBrokerURL: *publicMQTT, Logger: log, AcceptUnenrolled: *unenrolled, DisplayFont: *dispFont}
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
	if _, err := sdnotify.Ready(); err != nil {
		log.Warn("sd_notify READY", "err", err)
	}
	wdDone := make(chan struct{})
	go func() {
		defer close(wdDone)
		if err := sdnotify.Watchdog(ctx, clock.Real{}, a.Healthy, log); err != nil {
			log.Warn("systemd watchdog", "err", err)
		}
	}()
	<-ctx.Done()
	<-wdDone
	sdnotify.Stopping()
	fmt.Println("central: shutting down")
	return nil
}

func runKeys(args []string) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return errors.New("keys: want list, add, activate, rotate or remove")
	}
	cmd, args := args[0], args[1:]
	var kid string
	if cmd == "remove" || cmd == "activate" {
		if len(args) == 0 {
			return errors.New("keys remove: which key id?")
		}
		kid, args = args[0], args[1:]
	}
	fs := flag.NewFlagSet("keys", flag.ContinueOnError)
	data := fs.String("data", "", "data directory; required")
	purpose := fs.String("purpose", "signing", "signing or provisioning")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *data == "" {
		return errors.New("keys: --data is required")
	}
	p := keys.Purpose(*purpose)
	if p != keys.Signing && p != keys.Provisioning {
		return fmt.Errorf("keys: --purpose %q is not signing or provisioning", *purpose)
	}
	if _, err := os.Stat(filepath.Join(*data, "keys", "keys.json")); err != nil {
		return fmt.Errorf("keys: no keys in %s (central serve creates them at first start): %w", *data, err)
	}
	ring, _, err := keys.Load(filepath.Join(*data, "keys"), time.Now)
	if err != nil {
		return err
	}
	switch cmd {
	case "list":
	case "add":
		newKid, err := ring.Add(p)
		if err != nil {
			return err
		}
		fmt.Printf("added %s key %s (listed, not active): enroll/re-sign device configs, then 'central keys activate %s'\n", p, newKid, newKid)
	case "activate":
		if err := ring.Activate(p, kid); err != nil {
			return err
		}
		fmt.Printf("%s key %s is now active; the previous one stays listed until you remove it\n", p, kid)
	case "rotate":
		newKid, err := ring.Rotate(p)
		if err != nil {
			return err
		}
		fmt.Printf("new active %s key %s; the old one stays listed until you remove it\n", p, newKid)
	case "remove":
		if err := ring.Remove(p, kid); err != nil {
			return err
		}
		fmt.Printf("removed %s key %s\n", p, kid)
	default:
		return fmt.Errorf("keys: unknown command %q", cmd)
	}
	active := ring.Signer(p).KeyID()
	for _, k := range ring.Keys(p) {
		state := "listed"
		switch {
		case k.KeyID == active:
			state = "active"
		case !k.Retired.IsZero():
			state = "retired " + k.Retired.Format(time.RFC3339)
		}
		fmt.Printf("%s %s  created %s  %s  %s\n", p, k.KeyID, k.Created.Format(time.RFC3339), state, filepath.Join(ring.Dir(), k.File))
	}
	return nil
}
