package display

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/atmguard/kiosk/internal/wire"
)

var update = flag.Bool("update", false, "rewrite the golden PNGs in testdata/")

// testAlert is the spoofed-police-number alert of testdata/alert-0110.json.
func testAlert(t testing.TB) *wire.Alert {
	t.Helper()
	data, err := os.ReadFile("testdata/alert-0110.json")
	if err != nil {
		t.Fatal(err)
	}
	var a wire.Alert
	if err := json.Unmarshal(data, &a); err != nil {
		t.Fatal(err)
	}
	if err := a.Validate(); err != nil {
		t.Fatalf("test alert invalid: %v", err)
	}
	return &a
}

func testItem() *wire.CampaignItem {
	return &wire.CampaignItem{
		ID: "stop-phone", Version: 1, DurationSec: 20,
		Texts: []wire.Text{
			{Lang: "ja", Headline: "ATMでの携帯電話は、ストップ！", Body: "電話で指示されながらATMを操作していませんか。還付金がATMで戻ることはありません。", Instruction: "迷ったら電話を切って #9110 へ"},
			{Lang: "en", Headline: "Stop! No phone calls at the ATM", Body: "Is someone on the phone telling you which ATM buttons to press? No refund is ever paid at an ATM.", Instruction: "Not sure? Hang up and call #9110."},
		},
		Expires: time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC),
	}
}

// testPNG is a small generated picture (a phone crossed out) standing in for
// a campaign image, with its content ref.
func testPNG(t testing.TB) ([]byte, wire.ContentRef) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 160, 120))
	for y := 0; y < 120; y++ {
		for x := 0; x < 160; x++ {
			c := color.RGBA{0xf0, 0xf0, 0xf0, 0xff}
			if x > 55 && x < 105 && y > 10 && y < 110 {
				c = color.RGBA{0x20, 0x40, 0x80, 0xff}
			}
			if d := x - y - 20; d > -6 && d < 6 {
				c = color.RGBA{0xc0, 0, 0, 0xff}
			}
			img.Set(x, y, c)
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(buf.Bytes())
	return buf.Bytes(), wire.ContentRef{SHA256: hex.EncodeToString(sum[:]), Size: int64(buf.Len()), MediaType: "image/png"}
}

type screenCase struct {
	name string
	s    Screen
}

// templateCases is every template in Japanese and English, plus long-text
// and mixed-language cases.
func templateCases(t testing.TB) []screenCase {
	a := testAlert(t)
	item := testItem()
	pngData, ref := testPNG(t)
	withImg := *item
	withImg.ID = "stop-phone-img"
	withImg.Images = []wire.ContentRef{ref}
	noQR := *a
	noQR.QR = nil
	long := &wire.Alert{ID: "a-long", Version: 1, Priority: 80, Issuer: "警視庁 生活安全部 / Tokyo Metropolitan Police Department, Community Safety Bureau",
		Texts: []wire.Text{
			{Lang: "ja", Headline: "「還付金があります」という電話は詐欺です",
				Body:        "「医療費の還付金があります」「今日が期限です」と言って、携帯電話で話しながらATMを操作させ、お金を振り込ませる手口です。ATMでお金が戻ることは絶対にありません。",
				Instruction: "その電話はすぐに切ってください。自分で調べた番号で市役所か警察（#9110）に確認を。"},
			{Lang: "en", Headline: "A refund waiting at the ATM? It is a scam",
				Body:        "Callers pose as city offices or pension services, say a refund is due today, and talk you through ATM steps that send your money away. No refund is ever paid at an ATM.",
				Instruction: "Hang up now. Check with the city office or the police (#9110) on a number you look up yourself."},
		},
		QR:      &wire.Link{URL: "https://www.keishicho.metro.tokyo.lg.jp/kurashi/tokushu/", Label: "特殊詐欺の手口 / How the scams work"},
		Expires: time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC)}
	mixed := &wire.Alert{ID: "a-mixed", Version: 1, Priority: 60, Issuer: "警視庁 Tokyo MPD",
		Texts: []wire.Text{
			{Lang: "ja", Headline: "「0110」表示でもPoliceとは限らない！",
				Body:        "Caller IDに新宿警察署の番号（03-XXXX-0110）が出ても、本物の警察（Police）とは限りません。名前・部署・内線番号を聞いて、一度電話を切ってください。",
				Instruction: "電話を切る → 自分で調べた番号へ → 110 / #9110"},
			{Lang: "pt", Headline: "Golpe: falsa polícia (final 0110)",
				Body:        "A polícia nunca pede para você operar o caixa eletrônico. O número que aparece na tela não é prova.",
				Instruction: "Desligue e ligue para a polícia (110) em um número que você mesmo procurou."},
			{Lang: "vi", Headline: "Cảnh giác: giả danh cảnh sát (0110)",
				Body:        "Cảnh sát không bao giờ yêu cầu bạn thao tác ATM. Số hiện trên màn hình không phải là bằng chứng.",
				Instruction: "Hãy cúp máy và gọi 110 bằng số điện thoại bạn tự tra cứu."},
		},
		Expires: time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC)}
	ident := &IdentifyInfo{DeviceID: "kiosk-shinjuku-03", Branch: "shinjuku-nishi", Pref: "13", AgentVersion: "v0.4.1",
		Network: "broker connected", URL: "https://central.example.jp/devices/kiosk-shinjuku-03"}

	var cs []screenCase
	for _, lang := range []string{"ja", "en"} {
		cs = append(cs,
			screenCase{"alert-" + lang, Screen{Kind: KindAlert, Lang: lang, Alert: a}},
			screenCase{"alert-noqr-" + lang, Screen{Kind: KindAlert, Lang: lang, Alert: &noQR}},
			screenCase{"campaign-" + lang, Screen{Kind: KindCampaign, Lang: lang, Item: item}},
			screenCase{"campaign-img-" + lang, Screen{Kind: KindCampaign, Lang: lang, Item: &withImg, Images: map[string][]byte{ref.SHA256: pngData}}},
			screenCase{"standing-" + lang, Screen{Kind: KindStanding, Lang: lang}},
			screenCase{"phone-" + lang, Screen{Kind: KindPhone, Lang: lang}},
			screenCase{"identify-" + lang, Screen{Kind: KindIdentify, Lang: lang, Identify: ident}},
			screenCase{"maintenance-" + lang, Screen{Kind: KindMaintenance, Lang: lang}},
			screenCase{"long-" + lang, Screen{Kind: KindAlert, Lang: lang, Alert: long}},
		)
	}
	cs = append(cs,
		screenCase{"mixed-ja", Screen{Kind: KindAlert, Lang: "ja", Alert: mixed}},
		screenCase{"mixed-pt", Screen{Kind: KindAlert, Lang: "pt", Alert: mixed}},
		screenCase{"mixed-vi", Screen{Kind: KindAlert, Lang: "vi", Alert: mixed}},
	)
	return cs
}

var goldenSizes = []image.Point{{1920, 1080}, {1080, 1920}}

func TestGolden(t *testing.T) {
	outDir := os.Getenv("DISPLAY_TEST_ARTIFACTS")
	for _, c := range templateCases(t) {
		for _, sz := range goldenSizes {
			name := fmt.Sprintf("%s-%dx%d", c.name, sz.X, sz.Y)
			t.Run(name, func(t *testing.T) {
				got, err := Render(c.s, sz.X, sz.Y)
				if err != nil {
					t.Fatalf("render: %v", err)
				}
				small := downscale(got, goldenScale)
				path := filepath.Join("testdata", "golden", name+".png")
				if *update {
					writePNG(t, path, small)
					return
				}
				want := readPNG(t, path)
				if msg := compareImages(small, want); msg != "" {
					dir := outDir
					if dir == "" {
						dir = os.TempDir()
					}
					gotPath := filepath.Join(dir, "display-golden-got-"+name+".png")
					writePNG(t, gotPath, got)
					writePNG(t, strings.TrimSuffix(gotPath, ".png")+"-small.png", small)
					t.Fatalf("%s differs from %s: %s\n  got image written to %s (and -small.png beside it)\n  (go test ./display -run TestGolden -update rewrites the goldens after you have looked at it)", name, path, msg, gotPath)
				}
			})
		}
	}
}

// goldenScale: goldens are stored at a quarter of the screen's width and
// height (box-filtered, integer arithmetic, so exact and deterministic),
// which keeps the repository small (~25 KB a screen) while any change a
// person could see on the screen still changes them.
const goldenScale = 4

func downscale(img *image.RGBA, k int) *image.RGBA {
	b := img.Bounds()
	out := image.NewRGBA(image.Rect(0, 0, b.Dx()/k, b.Dy()/k))
	for y := 0; y < out.Rect.Dy(); y++ {
		for x := 0; x < out.Rect.Dx(); x++ {
			var r, g, bl int
			for dy := 0; dy < k; dy++ {
				i := img.PixOffset(b.Min.X+x*k, b.Min.Y+y*k+dy)
				for dx := 0; dx < k; dx++ {
					r += int(img.Pix[i+4*dx])
					g += int(img.Pix[i+4*dx+1])
					bl += int(img.Pix[i+4*dx+2])
				}
			}
			n := k * k
			out.SetRGBA(x, y, color.RGBA{uint8((r + n/2) / n), uint8((g + n/2) / n), uint8((bl + n/2) / n), 0xff})
		}
	}
	return out
}

// compareImages allows tiny anti-aliasing differences (floating point may
// round differently on another CPU) but nothing a person could see: at most
// 0.5% of pixels may differ by more than 3, and none by more than 24.
func compareImages(got *image.RGBA, want image.Image) string {
	if got.Bounds() != want.Bounds() {
		return fmt.Sprintf("size %v, want %v", got.Bounds(), want.Bounds())
	}
	b := got.Bounds()
	diff, worst := 0, 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			g := got.RGBAAt(x, y)
			wr, wg, wb, _ := want.At(x, y).RGBA()
			d := max(absDiff(g.R, uint8(wr>>8)), absDiff(g.G, uint8(wg>>8)), absDiff(g.B, uint8(wb>>8)))
			if d > 3 {
				diff++
			}
			worst = max(worst, d)
		}
	}
	if diff > b.Dx()*b.Dy()/200 || worst > 24 {
		return fmt.Sprintf("%d pixels differ by more than 3 (worst by %d per channel)", diff, worst)
	}
	return ""
}

func absDiff(a, b uint8) int {
	if a > b {
		return int(a - b)
	}
	return int(b - a)
}

func writePNG(t *testing.T, path string, img image.Image) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.DefaultCompression}
	if err := enc.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readPNG(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("%v (run go test ./display -run TestGolden -update to create it)", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
	return img
}

// TestGoldenSet makes sure no golden file is left over from a removed case
// (a stale golden would otherwise sit in the repository unchecked).
func TestGoldenSet(t *testing.T) {
	want := map[string]bool{}
	for _, c := range templateCases(t) {
		for _, sz := range goldenSizes {
			want[fmt.Sprintf("%s-%dx%d.png", c.name, sz.X, sz.Y)] = true
		}
	}
	ents, err := os.ReadDir(filepath.Join("testdata", "golden"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".png") && !want[e.Name()] {
			t.Errorf("testdata/golden/%s belongs to no test case; delete it", e.Name())
		}
	}
}
