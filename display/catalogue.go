package display

import (
	"sort"

	"github.com/atmguard/kiosk/internal/wire"
)

// Catalogue keys of the built-in strings.
const (
	StrUrgentTag       = "urgent.tag"
	StrStandingHead    = "standing.headline"
	StrStandingBody    = "standing.body"
	StrPhoneHead       = "phone.headline"
	StrPhoneBody       = "phone.body"
	StrIdentifyHead    = "identify.headline"
	StrIdentifyDevice  = "identify.device"
	StrIdentifyBranch  = "identify.branch"
	StrIdentifyVersion = "identify.version"
	StrIdentifyNetwork = "identify.network"
	StrMaintHead       = "maintenance.headline"
	StrMaintBody       = "maintenance.body"
	StrReminder        = "reminder"
)

// catalogue holds every string the built-in screens draw. The facts come
// from the Tokyo Metropolitan Police Department's campaign (see
// shared/CONTENT-FACTS.md): no phone calls at the ATM, the police never ask
// you to operate an ATM, no refund is ever paid by operating an ATM, hang
// up and call 110 / #9110 on a number you looked up yourself.
var catalogue = map[string]map[string]string{
	StrUrgentTag: {
		"ja": "緊急のお知らせ　URGENT",
		"en": "URGENT ALERT　緊急",
	},
	StrStandingHead: {
		"ja": "ストップ！ATMでの携帯電話",
		"en": "Stop! No phone calls at the ATM",
	},
	StrStandingBody: {
		"ja": "● ATMでは携帯電話で話さないでください。\n" +
			"● 警察がATMの操作をお願いすることは絶対にありません。\n" +
			"● ATMの操作でお金（還付金）が戻ることは絶対にありません。\n" +
			"● 電話を切り、自分で調べた番号へ：110番（緊急）・#9110（相談）",
		"en": "● Do not talk on a cell phone while using the ATM.\n" +
			"● The police never ask you to operate an ATM.\n" +
			"● No refund is ever paid by operating an ATM.\n" +
			"● Hang up. Call a number you look up yourself: 110 (emergency), #9110 (police advice).",
	},
	StrPhoneHead: {
		"ja": "電話を切ってください！",
		"en": "Hang up!",
	},
	StrPhoneBody: {
		"ja": "ATMを操作させる電話は詐欺です。警察や役所がATMの操作をお願いすることはありません。",
		"en": "A caller who tells you to operate the ATM is a scammer. Police and city offices never do.",
	},
	StrIdentifyHead: {
		"ja": "端末確認　IDENTIFY",
		"en": "IDENTIFY　端末確認",
	},
	StrIdentifyDevice:  {"ja": "端末", "en": "Device"},
	StrIdentifyBranch:  {"ja": "支店", "en": "Branch"},
	StrIdentifyVersion: {"ja": "版", "en": "Version"},
	StrIdentifyNetwork: {"ja": "通信", "en": "Network"},
	StrMaintHead: {
		"ja": "ただいま調整中です",
		"en": "Under maintenance",
	},
	StrMaintBody: {
		"ja": "この画面は一時的に停止しています。まもなく再開します。",
		"en": "This screen is paused for maintenance and will be back shortly.",
	},
	StrReminder: {
		"ja": "ATMでは携帯電話で話さないでください。警察がATMの操作をお願いすることはありません。110番・#9110",
		"en": "No phone calls at the ATM. The police never ask you to operate an ATM. 110 / #9110",
	},
}

// CatalogueEntry is one built-in string in one language.
type CatalogueEntry struct {
	Key, Lang, Text string
}

// Catalogue lists every built-in string, sorted by key then language. Every
// entry is drawable with DefaultFonts (a test checks it).
func Catalogue() []CatalogueEntry {
	var out []CatalogueEntry
	for k, m := range catalogue {
		for l, t := range m {
			out = append(out, CatalogueEntry{Key: k, Lang: l, Text: t})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Key != out[j].Key {
			return out[i].Key < out[j].Key
		}
		return out[i].Lang < out[j].Lang
	})
	return out
}

// BuiltinText returns the built-in string key in lang, falling back to
// English and then Japanese.
func BuiltinText(key, lang string) string {
	m := catalogue[key]
	for _, l := range []string{lang, "en", "ja"} {
		if t, ok := m[l]; ok {
			return t
		}
	}
	return ""
}

// StandingScreen is the built-in standing warning, shown when nothing else
// is available (no content yet, a render error, a failed frame).
func StandingScreen() Screen { return Screen{Kind: KindStanding, Lang: "ja"} }

// PhoneScreen is the phone-detected interrupt.
func PhoneScreen(lang string) Screen { return Screen{Kind: KindPhone, Lang: lang} }

// builtinLangs are the languages the built-in screens rotate through.
var builtinLangs = []string{"ja", "en"}

// Languages lists the languages a screen can rotate through, primary first:
// the alert's or item's texts, or ja and en for built-in screens.
func Languages(s Screen) []string {
	var texts []wire.Text
	switch {
	case s.Kind == KindAlert && s.Alert != nil:
		texts = s.Alert.Texts
	case s.Kind == KindCampaign && s.Item != nil:
		texts = s.Item.Texts
	default:
		return append([]string(nil), builtinLangs...)
	}
	var out []string
	for _, t := range texts {
		out = append(out, t.Lang)
	}
	return out
}

// pickText returns the text in lang, or the first (primary) one.
func pickText(texts []wire.Text, lang string) wire.Text {
	for _, t := range texts {
		if t.Lang == lang {
			return t
		}
	}
	if len(texts) > 0 {
		return texts[0]
	}
	return wire.Text{}
}
