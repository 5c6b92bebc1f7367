package agent

import (
	"strings"
	"testing"
	"time"

	"github.com/atmguard/kiosk/display"
	"github.com/atmguard/kiosk/firmware-config/config"
)

func TestOptionsFromConfig(t *testing.T) {
	cfg := config.Example()
	cfg.Broker = config.Broker{URL: "tcp://127.0.0.1:1883", Username: "atm-13-0001", Password: "x"}
	o, err := OptionsFromConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if o.DeviceID != "atm-13-0001" || o.Pref != "13" || len(o.Keys) != 2 || o.ClientID != "kiosk-atm-13-0001" || o.LocalAPIAddr != "127.0.0.1:8765" {
		t.Fatalf("options: %+v", o)
	}
	if tr := o.Triggers["phone-detected"]; tr.Kind != display.KindPhone || tr.Duration != 20*time.Second {
		t.Errorf("phone trigger: %+v", tr)
	}
	if !o.Triggers["transaction-end"].Clear {
		t.Error("transaction-end must clear")
	}
	s := NewScheduler(func() Schedule { o2, _ := o.withDefaults(); return o2.Schedule }())
	jst := o.Schedule.Location
	for _, tc := range []struct {
		at         time.Time
		restricted bool
	}{
		{time.Date(2026, 11, 23, 10, 0, 0, 0, jst), false}, // Monday 10:00 open
		{time.Date(2026, 11, 23, 21, 30, 0, 0, jst), true}, // Monday after closing
		{time.Date(2026, 11, 28, 12, 30, 0, 0, jst), true}, // Saturday lunch break
		{time.Date(2026, 11, 28, 10, 0, 0, 0, jst), false}, // Saturday 10:00
		{time.Date(2026, 11, 22, 10, 0, 0, 0, jst), true},  // Sunday closed
	} {
		if got := s.restricted(tc.at); got != tc.restricted {
			t.Errorf("%s: restricted=%v want %v", tc.at.Format("Mon 15:04"), got, tc.restricted)
		}
		// the config package's own semantics must agree
		if cfg.Quiet(tc.at) != tc.restricted {
			t.Errorf("%s: config.Quiet disagrees", tc.at.Format("Mon 15:04"))
		}
	}
}

func TestOptionsFromConfigRefusesNamingTheField(t *testing.T) {
	cfg := config.Example() // its CA file does not exist on this machine
	_, err := OptionsFromConfig(cfg)
	if err == nil || !strings.Contains(err.Error(), "broker.ca_file") {
		t.Fatalf("missing CA file: %v", err)
	}
	cfg = config.Example()
	cfg.Device.ID = "atm/+"
	_, err = OptionsFromConfig(cfg)
	if err == nil || !strings.Contains(err.Error(), "device.id") {
		t.Fatalf("bad device id: %v", err)
	}
}

// broker.urls becomes BrokerURLs, in order; a TLS cluster gets the TLS
// config (here: the CA file is missing, so building it fails by name).
func TestOptionsFromConfigBrokerURLs(t *testing.T) {
	cfg := config.Example()
	cfg.Broker = config.Broker{URLs: []string{"tcp://127.0.0.1:1883", "tcp://127.0.0.1:1884"}, Username: "atm-13-0001", Password: "x"}
	o, err := OptionsFromConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(o.BrokerURLs) != 2 || o.BrokerURLs[0] != "tcp://127.0.0.1:1883" || o.BrokerURLs[1] != "tcp://127.0.0.1:1884" || o.BrokerURL != "" || o.TLS != nil {
		t.Errorf("BrokerURL %q BrokerURLs %q TLS %v", o.BrokerURL, o.BrokerURLs, o.TLS)
	}
	cfg.Broker = config.Broker{URLs: []string{"mqtts://mqtt1.example.jp:8883", "mqtts://mqtt2.example.jp:8883"},
		Username: "atm-13-0001", Password: "x", CAFile: "/nonexistent/broker-ca.pem"}
	if _, err := OptionsFromConfig(cfg); err == nil || !strings.Contains(err.Error(), "broker.ca_file") {
		t.Errorf("TLS cluster with a missing CA: %v", err)
	}
}
