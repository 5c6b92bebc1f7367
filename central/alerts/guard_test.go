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
		// bypasses found in review
		{"至急 03 - 1234 - 5678 へ", "03 - 1234 - 5678"},
		{"0120・123・456 に電話", "0120・123・456"},
		{"０１２０／１２３／４５６ に電話", "0120/123/456"},
		{"0120~123~456 に電話", "0120~123~456"},
		{"0120〜123〜456 に電話", "0120〜123〜456"},
		{"〇三-一二三四-五六七八 に電話", "03-1234-5678"},
		{"返金は 警察庁-返金.jp へ", "警察庁-返金.jp"},
		{"evil-refund。com で手続き", "evil-refund。com"},
		{"evil-refund ｡ com で手続き", "evil-refund 。 com"}, // named as folded
		{"evil-refund . com で手続き", "evil-refund . com"},
		{"EVIL-REFUND . COM", "EVIL-REFUND . COM"},
		{"03 110 5678", "03 110 5678"},                 // an allowed number inside a run is not taken off
		{"110 / 03-1234-5678", "03-1234-5678"},         // but at the start it is, and the rest is judged
		{"03-1234-5678. It is urgent", "03-1234-5678"}, // a sentence end does not hide a number
		{"電話は 090 1234 5678。ATMで", "090 1234 5678"},    // nor does a loose "domain" look-alike
		// allowed: police numbers, official sites and ordinary prose with numbers
		{"110番 または #9110", ""},
		{"警察相談専用電話 #9110 (平日 8:30〜17:15)", ""},
		{"https://www.npa.go.jp/ と https://www.keishicho.metro.tokyo.lg.jp/ を確認", ""},
		{"2026年11月22日から12月1日まで", ""},
		{"二〇二六年十一月二十二日", ""},
		{"被害額は8.15億円、2,918件", ""},
		{"令和8年 1月〜3月の被害", ""},
		{"電話をしながらのATM操作はやめましょう。ATMで還付金は受け取れません。", ""},
		{"Do not talk on a phone at the ATM. Or call 110. It is free. Net banking too.", ""},
		{"詳しくは交番へ。com", "詳しくは交番へ。com"}, // odd, but a scam TLD after a dot is read as an address
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
	errs = g.CheckTexts("", nil, &wire.Link{URL: "https://www.npa.go.jp/", Label: "相談 0120・123・456"})
	if len(errs) != 1 || central.ErrorField(errs[0]) != "qr.label" {
		t.Fatalf("qr label check: %v", errs)
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
