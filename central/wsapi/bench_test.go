package wsapi_test

import (
	"testing"

	"github.com/atmguard/kiosk/central"
	"github.com/atmguard/kiosk/central/wsapi"
)

// BenchmarkCallRoundTrip is one authenticated request/response on one
// connection: auth.whoami (session check, user read from bbolt) and
// alerts.list (10 alerts, ~6 KB of JSON).
func BenchmarkCallRoundTrip(b *testing.B) {
	for _, m := range []string{"auth.whoami", "alerts.list"} {
		b.Run(m, func(b *testing.B) {
			e := newEnv(b, wsapi.Options{})
			c := e.login("pub1")
			for range 10 {
				if err := c.Call(ctx(b), "alerts.create", e.wideInput(), nil); err != nil {
					b.Fatal(err)
				}
			}
			var page central.AlertPage
			b.ResetTimer()
			for b.Loop() {
				if err := c.Call(ctx(b), m, nil, &page); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
