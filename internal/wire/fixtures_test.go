package wire

import (
	"crypto/ed25519"
	"crypto/sha256"
	"time"
)

// Test keys come from fixed seeds so signatures (deterministic in ed25519)
// and therefore the golden envelopes never drift.
func testKey(name string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("kiosk wire test key: " + name))
	return ed25519.NewKeyFromSeed(seed[:])
}

func testSigner(name string) *Signer {
	s, err := NewSigner(testKey(name))
	if err != nil {
		panic(err)
	}
	return s
}

var (
	t0      = time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	imgHash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
)

// sampleSnapshot is a realistic ~2 KB snapshot: one urgent alert in four
// languages with a QR link and two campaign slides.
func sampleSnapshot() *Snapshot {
	return &Snapshot{
		Type:    TypeSnapshot,
		Scope:   Scope{Kind: ScopePref, ID: "13"},
		Seq:     42,
		Issued:  t0,
		Expires: t0.Add(6 * time.Hour),
		Alerts: []Alert{{
			ID:       "a-0110-shinjuku",
			Version:  2,
			Priority: 80,
			Issuer:   "警視庁 / Tokyo Metropolitan Police Department",
			Texts: []Text{
				{Lang: "ja", Headline: "警察署の番号（末尾0110）を表示する詐欺電話が急増中",
					Body:        "新宿警察署の代表番号などを偽って表示し、警察官を名乗って「あなたの口座が犯罪に使われている」と言う電話が相次いでいます。着信番号は証拠になりません。",
					Instruction: "電話を切り、自分で調べた番号で最寄りの警察署か #9110 に相談してください。警察がATMの操作を求めることはありません。"},
				{Lang: "en", Headline: "Scam calls are showing real police numbers (ending in 0110)",
					Body:        "Callers pretend to be police officers and say your account is linked to a crime. Caller ID is not proof.",
					Instruction: "Hang up. Call your local police station on a number you look up yourself, or #9110. Police never ask you to use an ATM."},
				{Lang: "zh", Headline: "冒充警察局号码（尾号0110）的诈骗电话激增",
					Instruction: "请挂断电话，拨打您自己查到的警察局号码或 #9110。警察绝不会要求您操作ATM。"},
				{Lang: "vi", Headline: "Cuộc gọi lừa đảo giả số điện thoại cảnh sát (đuôi 0110)",
					Instruction: "Hãy cúp máy và gọi cho đồn cảnh sát bằng số bạn tự tra cứu, hoặc #9110."},
			},
			QR:        &Link{URL: "https://www.keishicho.metro.tokyo.lg.jp/", Label: "警視庁 特殊詐欺対策"},
			Effective: t0,
			Expires:   t0.Add(72 * time.Hour),
		}},
		Campaign: []CampaignItem{
			{ID: "stop-phone-atm", Version: 1, DurationSec: 15,
				Texts: []Text{
					{Lang: "ja", Headline: "STOP！ATMでの携帯電話", Body: "ATMでは携帯電話で話さない、話させない。"},
					{Lang: "en", Headline: "Stop! Don't talk on a cell phone at the ATM"},
				},
				Images:    []ContentRef{{SHA256: imgHash, Size: 48213, MediaType: "image/png"}},
				Effective: t0, Expires: t0.Add(30 * 24 * time.Hour)},
			{ID: "no-refund-at-atm", Version: 3, DurationSec: 12,
				Texts: []Text{
					{Lang: "ja", Headline: "ATMでお金は還付されません", Body: "「還付金があります」という電話は詐欺です。"},
					{Lang: "en", Headline: "No refund is ever paid out by operating an ATM"},
				},
				Effective: t0, Expires: t0.Add(30 * 24 * time.Hour)},
		},
	}
}

func sampleCommand() *Command {
	return &Command{
		Type: TypeCommand, ID: "cmd-0001", Device: "atm-13-0001", Name: CmdIdentify,
		Args: map[string]string{"seconds": "60"}, Issued: t0, Expires: t0.Add(5 * time.Minute),
	}
}
