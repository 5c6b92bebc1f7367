package app

import (
	"strings"
	"testing"
	"time"

	"github.com/atmguard/kiosk/internal/wire"
)

// BenchmarkCheckFit is the publish-time fit check of a two-language alert
// (display.CheckFit at four screen sizes per language), which also runs on
// every live-preview check from the console.
func BenchmarkCheckFit(b *testing.B) {
	for _, tc := range []struct {
		name     string
		headline string
	}{{"fits", "警察を名乗る電話に注意"}, {"too-long", string([]rune(strings.Repeat("警察を名乗る電話に注意してください。", 6))[:80])}} {
		b.Run(tc.name, func(b *testing.B) {
			a := wire.Alert{ID: "a", Version: 1, Priority: 80, Issuer: "警視庁", Expires: time.Now().Add(time.Hour),
				Texts: []wire.Text{{Lang: "ja", Headline: tc.headline, Body: "末尾が0110の番号から警察を名乗る電話がかかっています。ATMの操作を求める電話は詐欺です。", Instruction: "電話を切り、110番に相談してください"},
					{Lang: "en", Headline: "Beware of calls claiming to be the police", Body: "Calls from numbers ending in 0110 are scams.", Instruction: "Hang up and call 110"}}}
			renderer{}.checkFit(a) // fonts loaded outside the timing
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				errs := renderer{}.checkFit(a)
				if (len(errs) > 0) != (tc.name == "too-long") {
					b.Fatalf("fit errors: %v", errs)
				}
			}
		})
	}
}
