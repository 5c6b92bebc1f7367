package alerts

import (
	"errors"
	"testing"

	"github.com/atmguard/kiosk/central"
	"github.com/atmguard/kiosk/internal/wire"
)

func TestGuard(t *testing.T) {
	g := NewGuard(central.DefaultAllowList())
	tests := []struct {
		text    string
		refused string // offending text named in the error; "" = allowed
	}{
		{"警察は110番、相談は#9110へ", ""},
		{"末尾が0110の番号からの電話に注意", ""},
		{"2023年、都内で2,918件、約81.5億円の被害", ""},
		{"詳しくは https://www.npa.go.jp/bureau/ を見てください", ""},
		{"www.keishicho.metro.tokyo.lg.jp で確認", ""},
		{"至急 03-1234-5678 に電話してください", "03-1234-5678"},
		{"至急０９０−１２３４−５６７８へ", "090−1234−5678"}, // U+2212 minus signs are separators too
		{"至急０９０－１２３４－５６７８へ", "090-1234-5678"}, // full-width hyphens fold to -
		{"call 090 1234 5678 now", "090 1234 5678"},
		{"call +81 3 1234 5678", "+81 3 1234 5678"},
		{"#8888 に相談", "#8888"},
		{"返金は https://refund-npa.example.com/ から", "https://refund-npa.example.com/"},
		{"see http://www.npa.go.jp/", "http://www.npa.go.jp/"}, // scheme differs from the allowed https
		{"see https://www.npa.go.jp.evil.example/", "https://www.npa.go.jp.evil.example/"},
		{"see https://www.npa.go.jp@evil.example/", "https://www.npa.go.jp@evil.example/"},
		{"go to evil-refund.jp today", "evil-refund.jp"},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			err := g.CheckText("texts[0].body", tt.text)
			if tt.refused == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var fe *central.FieldError
			if !errors.As(err, &fe) || !errors.Is(err, central.ErrContentGuard) {
				t.Fatalf("got %v, want a content guard error", err)
			}
			if fe.Text != tt.refused || fe.Field != "texts[0].body" {
				t.Fatalf("named %q in %s, want %q", fe.Text, fe.Field, tt.refused)
			}
		})
	}
	errs := g.CheckTexts("", []wire.Text{{Lang: "ja", Headline: "注意"}}, &wire.Link{URL: "https://bit.ly/x", Label: "詳細"})
	if len(errs) != 1 || central.ErrorField(errs[0]) != "qr.url" {
		t.Fatalf("qr check: %v", errs)
	}
}

func TestAllowListValidation(t *testing.T) {
	if _, err := ValidateAllowList(central.AllowList{URLPrefixes: []string{"ftp://x/"}}); central.ErrorField(err) != "url_prefixes[0]" {
		t.Fatalf("ftp prefix: %v", err)
	}
	if _, err := ValidateAllowList(central.AllowList{Phones: []string{"12"}}); central.ErrorField(err) != "phones[0]" {
		t.Fatalf("short phone: %v", err)
	}
	l, err := ValidateAllowList(central.AllowList{Phones: []string{"0120-000-110"}, URLPrefixes: []string{"https://WWW.Police.PREF.example.jp"}})
	if err != nil {
		t.Fatal(err)
	}
	g := NewGuard(l)
	if err := g.CheckText("x", "フリーダイヤル 0120-000-110 https://www.police.pref.example.jp/a"); err != nil {
		t.Fatalf("added entries refused: %v", err)
	}
}
