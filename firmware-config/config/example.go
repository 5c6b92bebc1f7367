package config

import (
	"crypto/ed25519"
	"crypto/sha256"
)

// Example is the full example config of docs/CONFIG.md and
// testdata/example.toml: every section filled in. Its signing keys are
// derived from fixed seeds and are for documentation only.
func Example() *Config {
	c := Default()
	c.Device = Device{ID: "atm-13-0001", Branch: "tokyo-shinjuku-001", Prefecture: "13"}
	c.Broker = Broker{
		URL:      "mqtts://broker.example.jp:8883",
		Username: "atm-13-0001",
		Password: "change-me-enroll-generates-this",
		CAFile:   "/etc/kiosk/broker-ca.pem",
	}
	c.Central = Central{ContentURL: "https://central.example.jp", APIURL: "https://central.example.jp"}
	c.Signing.Keys = []string{exampleKey("central signing key 2026"), exampleKey("central signing key 2027")}
	c.Display.Font = "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc"
	c.Display.Brightness = []Brightness{{At: "06:00", Percent: 80}, {At: "08:00", Percent: 100}, {At: "20:00", Percent: 70}}
	c.Schedule.Hours = &Hours{
		Mon: []string{"08:00-21:00"}, Tue: []string{"08:00-21:00"}, Wed: []string{"08:00-21:00"},
		Thu: []string{"08:00-21:00"}, Fri: []string{"08:00-21:00"},
		Sat: []string{"09:00-12:00", "13:00-17:00"}, Sun: []string{},
	}
	c.Schedule.Quiet = []Window{{From: "22:00", To: "07:00"}, {From: "06:00", To: "09:00", Days: []string{"sat", "sun"}}}
	return c
}

func exampleKey(label string) string {
	seed := sha256.Sum256([]byte(label))
	return EncodePublicKey(ed25519.NewKeyFromSeed(seed[:]).Public().(ed25519.PublicKey))
}
