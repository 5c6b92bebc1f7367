package app_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/atmguard/kiosk/central"
	"github.com/atmguard/kiosk/central/app"
	"github.com/atmguard/kiosk/internal/wire"
)

const notoCJK = "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc"

// The fit check must use the displays' font: with the built-in face a
// Korean alert is refused naming the field (the displays would draw tofu),
// with --display-font pointing at Noto Sans CJK the same alert passes.
func TestDisplayFontDecidesWhatPasses(t *testing.T) {
	if _, err := os.Stat(notoCJK); err != nil {
		t.Fatalf("%s missing (Debian fonts-noto-cjk, installed by deploy/scripts/install-deps.sh): %v", notoCJK, err)
	}
	in := alertInput(central.Target{Branches: []string{"br-1"}}, "경찰을 사칭하는 전화에 주의")
	in.Texts = append(in.Texts, wire.Text{Lang: "ko", Headline: "경찰을 사칭하는 전화에 주의", Instruction: "전화를 끊고 #9110 에 상담하세요."})
	ctx := context.Background()

	builtin := app.NewTest(t)
	errs := builtin.Alerts.Check(ctx, builtin.Admin(t), in)
	var named bool
	for _, e := range errs {
		if f := central.ErrorField(e); strings.HasPrefix(f, "texts[") && strings.Contains(e.Error(), "cannot draw") {
			named = true
		}
	}
	if !named {
		t.Fatalf("built-in font: Korean text not refused with its field; errors: %v", errs)
	}

	noto := app.NewTest(t, func(c *app.Config) { c.DisplayFont = notoCJK })
	if errs := noto.Alerts.Check(ctx, noto.Admin(t), in); len(errs) != 0 {
		t.Fatalf("with Noto Sans CJK the Korean alert should pass, got %v", errs)
	}
}

func TestDisplayFontMissingFileRefusesStart(t *testing.T) {
	cfg := app.Config{DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0", MQTTAddr: "127.0.0.1:0", Logger: app.QuietLogger(),
		DisplayFont: "/nonexistent/font.ttc"}
	a, err := app.Start(context.Background(), cfg)
	if err == nil {
		a.Close()
		t.Fatal("central started with a display font that does not exist")
	}
	if !strings.Contains(err.Error(), "/nonexistent/font.ttc") {
		t.Fatalf("error does not name the font file: %v", err)
	}
}
