package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/atmguard/kiosk/deploy/fleet"
)

// runChild runs one group of simulated displays and speaks a line protocol
// with the parent: it prints "ready" once all are started (agents) or
// subscribed (paho), then one line per report:
//
//	shown <index> <alert id> <unix ns>
//	recv <index> <unix ns>
//
// and reads commands from stdin: "arm" (paho: start reporting), "quit".
func runChild(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("child", flag.ContinueOnError)
	mode := fs.String("mode", "agents", "agents or paho")
	devFile := fs.String("devices", "", "devices file (fleet.WriteDevices)")
	keyFile := fs.String("keys", "", "central's public keys (fleet.WriteKeys)")
	brokerURL := fs.String("broker", "", "broker URL")
	centralURL := fs.String("central", "", "central URL")
	index0 := fs.Int("index0", 0, "index of the first device in reports")
	dir := fs.String("dir", "", "directory for the agents' caches")
	caFile := fs.String("ca", "", "CA certificate (PEM) for an ssl:// broker")
	if err := fs.Parse(args); err != nil {
		return err
	}
	devs, err := fleet.ReadDevices(*devFile)
	if err != nil {
		return err
	}
	kr, err := fleet.ReadKeys(*keyFile)
	if err != nil {
		return err
	}
	tgt := fleet.Target{BrokerURL: *brokerURL, CentralURL: *centralURL, Keys: kr}
	if *caFile != "" {
		pem, err := os.ReadFile(*caFile)
		if err != nil {
			return err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("-ca %s: no certificate", *caFile)
		}
		tgt.TLS = &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	}

	out := make(chan fleet.Report, 65536)
	report := func(r fleet.Report) { out <- r } // blocks rather than drops: every report counts
	writerDone := make(chan struct{})
	w := bufio.NewWriterSize(os.Stdout, 1<<16)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { // owned by runChild: ends when ctx ends, after flushing
		defer close(writerDone)
		flush := time.NewTicker(50 * time.Millisecond)
		defer flush.Stop()
		for {
			select {
			case r := <-out:
				switch r.Kind {
				case "shown":
					fmt.Fprintf(w, "shown %d %s %d\n", r.Index, r.AlertID, r.At.UnixNano())
				case "recv":
					fmt.Fprintf(w, "recv %d %d\n", r.Index, r.At.UnixNano())
				default: // control lines: ready, armed
					fmt.Fprintln(w, r.Kind)
					w.Flush()
				}
			case <-flush.C:
				w.Flush()
			case <-ctx.Done():
				w.Flush()
				return
			}
		}
	}()
	say := func(s string) { out <- fleet.Report{Kind: s} }

	var stop func()
	var arm func()
	switch *mode {
	case "agents":
		if *dir == "" {
			return errors.New("-dir is required for agents")
		}
		as, err := fleet.StartAgents(devs, *index0, tgt, *dir, fleet.AgentOptions{}, report)
		if err != nil {
			return err
		}
		stop, arm = as.Stop, func() {}
	case "paho":
		ps, err := fleet.StartPaho(devs, *index0, tgt, report)
		if err != nil {
			return err
		}
		stop, arm = ps.Stop, ps.Arm
	default:
		return fmt.Errorf("-mode %q: want agents or paho", *mode)
	}
	say("ready")

	lines := make(chan string)
	go func() { // ends when stdin closes (the parent exits or sends quit)
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	for {
		select {
		case <-ctx.Done():
			stop()
			return nil
		case l, ok := <-lines:
			switch {
			case !ok || l == "quit":
				stop()
				cancel()
				<-writerDone
				return nil
			case l == "arm":
				arm()
				say("armed")
			}
		}
	}
}
