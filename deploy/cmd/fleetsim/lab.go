package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/atmguard/kiosk/central"
	"path/filepath"

	"github.com/atmguard/kiosk/central/app"
	"github.com/atmguard/kiosk/central/keys"
	"github.com/atmguard/kiosk/deploy/broker"
	"github.com/atmguard/kiosk/deploy/fleet"
)

// runLab runs a whole lab in one command: central, a broker (central's
// embedded one, or mosquitto with the production config and ACLs) and N
// simulated displays, until interrupted. State persists in -data, so a
// second run resumes with the same devices, keys and admin password.
func runLab(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("lab", flag.ContinueOnError)
	n := fs.Int("n", 20, "simulated displays (real agent cores, in this process)")
	data := fs.String("data", "lab-data", "lab state directory")
	httpAddr := fs.String("http", "127.0.0.1:8080", "central's console/API address")
	mqttAddr := fs.String("mqtt", "127.0.0.1:1883", "embedded broker address (without -mosquitto)")
	tlsPort := fs.Int("mosquitto-tls-port", 8883, "with -mosquitto: the TLS listener for displays (the loopback listener for central uses -mqtt's port)")
	useMosq := fs.Bool("mosquitto", false, "run /usr/sbin/mosquitto with deploy/broker/mosquitto (TLS for displays, ACLs) instead of the embedded broker")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *n < 0 || *n > 2000 {
		return fmt.Errorf("-n %d: 0..2000 in one lab process (use bench for more)", *n)
	}
	if err := os.MkdirAll(*data, 0o700); err != nil {
		return err
	}
	cfg := app.Config{DataDir: filepath.Join(*data, "central"), HTTPAddr: *httpAddr, MQTTAddr: *mqttAddr}
	var mq *broker.Mosquitto
	users := map[string]string{}
	if *useMosq {
		pwFile := filepath.Join(*data, "central-broker-password")
		pw, err := os.ReadFile(pwFile)
		if errors.Is(err, os.ErrNotExist) {
			b := make([]byte, 24)
			rand.Read(b)
			pw = []byte(hex.EncodeToString(b))
			err = os.WriteFile(pwFile, pw, 0o600)
		}
		if err != nil {
			return err
		}
		users["central"] = string(pw)
		devFile := filepath.Join(*data, "devices.tsv")
		if devs, err := fleet.ReadDevices(devFile); err == nil {
			for _, d := range devs {
				users[d.ID] = d.Password
			}
		}
		_, port, err := net.SplitHostPort(*mqttAddr)
		if err != nil {
			return fmt.Errorf("-mqtt %q: %w", *mqttAddr, err)
		}
		plain, err := strconv.Atoi(port)
		if err != nil {
			return fmt.Errorf("-mqtt %q: port: %w", *mqttAddr, err)
		}
		mq, err = broker.StartMosquitto(ctx, broker.MosquittoOptions{Dir: filepath.Join(*data, "mosquitto"), Users: users, TLSPort: *tlsPort, PlainPort: plain})
		if err != nil {
			return err
		}
		defer mq.Stop()
		cfg.MQTTAddr, cfg.BrokerURL, cfg.BrokerUser, cfg.BrokerPassword = "", "tcp://"+mq.PlainAddr, "central", string(pw)
		cfg.PublicBrokerURL = "ssl://" + mq.TLSAddr
		fmt.Printf("lab: mosquitto on %s (TLS, displays) and %s (loopback, central); config %s\n", mq.TLSAddr, mq.PlainAddr, filepath.Join(*data, "mosquitto", "mosquitto.conf"))
	}
	a, err := app.Start(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	fmt.Printf("lab: central console at %s/\n", a.URL())
	if a.AdminPassword != "" {
		fmt.Printf("lab: first start: user admin, password %s (shown only now)\n", a.AdminPassword)
	}

	devFile := filepath.Join(*data, "devices.tsv")
	devs, err := fleet.ReadDevices(devFile)
	if err != nil || len(devs) != *n {
		devs = fleet.MakeDevices(*n)
		if err := fleet.Register(a, devs); err != nil {
			return err
		}
		if err := fleet.WriteDevices(devFile, devs); err != nil {
			return err
		}
	}
	tgt := fleet.Target{BrokerURL: a.BrokerURL(), CentralURL: a.URL(), Keys: a.Keys.KeyRing(keys.Signing)}
	if mq != nil {
		for _, d := range devs {
			users[d.ID] = d.Password
		}
		if err := mq.Restart(ctx); err != nil { // rewrites the password file with the devices
			return err
		}
		tgt.BrokerURL, tgt.TLS = "ssl://"+mq.TLSAddr, mq.ClientTLS()
	}
	as, err := fleet.StartAgents(devs, 0, tgt, filepath.Join(*data, "agents"), fleet.AgentOptions{}, func(r fleet.Report) {
		fmt.Printf("lab: display %s shows alert %s\n", devs[r.Index].ID, r.AlertID)
	})
	if err != nil {
		return err
	}
	defer as.Stop()
	fmt.Printf("lab: %d simulated displays running (devices in %s); Ctrl-C stops\n", len(devs), devFile)
	admin, err := fleet.Admin(ctx, a)
	if err != nil {
		return err
	}
	last := -1
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for ctx.Err() == nil {
		if fl, err := a.Registry.Fleet(ctx, admin, central.FleetQuery{}); err == nil && fl.Online != last {
			last = fl.Online
			fmt.Printf("lab: %d/%d displays online at central\n", fl.Online, fl.Total)
		}
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
	}
	fmt.Println("lab: stopping")
	return nil
}
