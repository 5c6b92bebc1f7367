package e2e

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cdp "github.com/chromedp/chromedp"

	"github.com/atmguard/kiosk/agent"
	"github.com/atmguard/kiosk/agent/testbroker"
	"github.com/atmguard/kiosk/central"
	"github.com/atmguard/kiosk/central/app"
	"github.com/atmguard/kiosk/central/keys"
	"github.com/atmguard/kiosk/central/store"
	"github.com/atmguard/kiosk/display"
	"github.com/atmguard/kiosk/internal/wire"
)

// device is one display of the test fleet.
type device struct{ id, branch, pref string }

// fleet: five displays in Tokyo (the alert's target) and one in Osaka that
// must not be counted.
var fleet = []device{
	{"atm-13-0001", "tokyo-001", "13"},
	{"atm-13-0002", "tokyo-001", "13"},
	{"atm-13-0003", "tokyo-002", "13"},
	{"atm-13-0004", "tokyo-002", "13"},
	{"atm-13-0005", "tokyo-003", "13"},
	{"atm-27-0001", "osaka-001", "27"},
}

const tokyoDisplays = 5

// offlineDisplays are enrolled in Kanagawa but never connect: they make the
// device list span two pages and the offline count non-zero.
const offlineDisplays = 60

// registerOffline enrolls devices that never come online.
func registerOffline(t *testing.T, a *app.App) {
	t.Helper()
	for i := 1; i <= offlineDisplays; i++ {
		id := fmt.Sprintf("atm-14-%04d", i)
		if err := a.DB.Update(func(tx *store.Tx) error {
			_, err := a.Registry.Register(tx, id, fmt.Sprintf("yokohama-%03d", (i-1)/10+1), "14")
			return err
		}); err != nil {
			t.Fatalf("register %s: %v", id, err)
		}
		if err := a.Registry.Registered(id, a.DB); err != nil {
			t.Fatalf("registered %s: %v", id, err)
		}
	}
}

// startAgents registers each device with central (as enrollment would) and
// runs a real headless agent core for it against central's embedded broker.
func startAgents(t *testing.T, a *app.App) map[string]*agent.Agent {
	t.Helper()
	ring, err := wire.NewKeyRing(a.Keys.PublicKeys(keys.Signing)...)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*agent.Agent{}
	for _, d := range fleet {
		var pw string
		if err := a.DB.Update(func(tx *store.Tx) error {
			var err error
			pw, err = a.Registry.Register(tx, d.id, d.branch, d.pref)
			return err
		}); err != nil {
			t.Fatalf("register %s: %v", d.id, err)
		}
		if err := a.Registry.Registered(d.id, a.DB); err != nil {
			t.Fatalf("registered %s: %v", d.id, err)
		}
		ag, err := agent.New(agent.Options{
			DeviceID: d.id, Branch: d.branch, Pref: d.pref, AgentVersion: "e2e",
			BrokerURL: a.BrokerURL(), Username: d.id, Password: pw, Keys: ring,
			CentralURL: a.URL(), CachePath: filepath.Join(t.TempDir(), d.id+".db"),
			Logger: app.QuietLogger(), ReconnectJitter: 50 * time.Millisecond, StatusMinInterval: 50 * time.Millisecond,
			Presenter: renderPresenter{agent.NewHeadlessPresenter()},
		})
		if err != nil {
			t.Fatalf("agent %s: %v", d.id, err)
		}
		done := make(chan error, 1)
		go func() { done <- ag.Run(context.Background()) }()
		t.Cleanup(func() {
			if err := ag.Close(); err != nil {
				t.Errorf("close agent %s: %v", d.id, err)
			}
			if err := <-done; err != nil {
				t.Errorf("agent %s run: %v", d.id, err)
			}
		})
		out[d.id] = ag
	}
	return out
}

// waitAgents waits (on the agents' change notifications) until cond holds
// for every agent in ids.
func waitAgents(t *testing.T, ags map[string]*agent.Agent, ids []string, what string, cond func(*agent.Agent) bool) {
	t.Helper()
	deadline := time.NewTimer(stepTimeout)
	defer deadline.Stop()
	for _, id := range ids {
		ag := ags[id]
		for {
			ch := ag.Changed()
			if cond(ag) {
				break
			}
			select {
			case <-ch:
			case <-deadline.C:
				sc, _ := ag.Current()
				t.Fatalf("%s: agent %s never got there (screen %q)", what, id, sc.ID())
			}
		}
	}
}

// TestConsoleAlertLifecycle drives the console in chromium against a real
// central and real agent cores: an admin creates a publisher and an
// approver; the publisher composes an alert (a phone number not on the
// allow-list is refused next to the field; the preview images render), submits it
// and cannot approve it; the approver approves it from the queue; the
// publisher watches the delivery bars reach the five targeted displays,
// cancels, and watches "still displayed" fall to 0.
func TestConsoleAlertLifecycle(t *testing.T) {
	a := app.NewTest(t)
	if a.AdminPassword == "" {
		t.Fatal("central did not generate an admin password")
	}
	registerOffline(t, a)
	ags := startAgents(t, a)
	var tokyo, all []string
	for _, d := range fleet {
		all = append(all, d.id)
		if d.pref == "13" {
			tokyo = append(tokyo, d.id)
		}
	}
	br := newBrowser(t)

	// ---- admin: language switch, wrong password, first-run password change
	admin := br.newTab("admin")
	admin.do("open console", cdp.Navigate(a.URL()+"/"), cdp.WaitVisible(css("#login-form input[name=username]")))
	admin.do("switch to English", setSelect("#lang-select", "en"), waitText("#login-title", "Log in"))
	admin.do("switch to Japanese", setSelect("#lang-select", "ja"), waitText("#login-title", "ログイン"))
	admin.do("wrong password",
		cdp.SendKeys(css("input[name=username]"), "admin"),
		cdp.SendKeys(css("input[name=password]"), "not-the-password"),
		cdp.Click(css("#login-submit")),
		cdp.WaitVisible(css("#login-form .msg-error")))
	if got := admin.text("wrong password message", "#login-form .msg-error"); !strings.Contains(got, "ユーザー名またはパスワードが正しくありません") {
		t.Errorf("wrong password shows %q", got)
	}
	admin.shot("wrong-password")
	admin.do("login", cdp.SendKeys(css("input[name=password]"), a.AdminPassword), cdp.Click(css("#login-submit")))
	adminPW := "admin-new-password-0110"
	changePassword(admin, a.AdminPassword, adminPW)

	total := len(fleet) + offlineDisplays
	admin.do("fleet counts", cdp.WaitVisible(css("[data-stat=total]")),
		waitJS(statIs("total", total)), waitJS(statIs("online", len(fleet))), waitJS(statIs("offline", offlineDisplays)),
		cdp.WaitVisible(css(`tr[data-device="atm-13-0001"]`)),
		waitJS(`document.querySelectorAll('tr[data-device]').length === 50`),
		waitText(".pager-info", fmt.Sprintf("1–50 / %d", total)))
	admin.shot("fleet")
	admin.do("next page", cdp.Click(css(".pager button:last-child")),
		waitJS(fmt.Sprintf(`document.querySelectorAll('tr[data-device]').length === %d`, total-50)),
		waitText(".pager-info", fmt.Sprintf("51–%d / %d", total, total)))
	admin.do("branches of a prefecture", cdp.Click(css(`[data-group="13"]`)),
		waitText("#groups-title", "東京都"), cdp.WaitVisible(css(`[data-group="tokyo-002"]`)))
	admin.do("fleet search", cdp.Navigate(a.URL()+"/#/fleet"), cdp.WaitVisible(css("#device-search")), cdp.SendKeys(css("#device-search"), "osaka"),
		waitJS(`document.querySelectorAll('tr[data-device]').length === 1 && !!document.querySelector('tr[data-device="atm-27-0001"]')`))

	// ---- admin creates the publisher and the approver
	admin.do("users page", cdp.Navigate(a.URL()+"/#/users"), cdp.WaitVisible(css("#user-create")))
	satoPW := createUser(admin, "sato", "publisher")
	tanakaPW := createUser(admin, "tanaka", "approver")
	admin.shot("users")

	// ---- publisher composes
	// The publisher reaches central through a TCP proxy that the test can
	// cut, to check that a lost connection costs no typed text.
	proxy := testbroker.NewProxy(t, a.HTTPAddr())
	satoURL := "http://" + proxy.Addr
	sato := br.newTab("sato")
	sato.do("open console", cdp.Navigate(satoURL+"/"), cdp.WaitVisible(css("#login-form input[name=username]")),
		setSelect("#lang-select", "ja"), waitText("#login-title", "ログイン"))
	login(sato, "sato", satoPW)
	changePassword(sato, satoPW, "sato-new-password-0110")
	sato.do("compose page", cdp.Navigate(satoURL+"/#/compose"), cdp.WaitVisible(css("#compose-form")))
	sato.do("target Tokyo", cdp.Click(css(`input[type=checkbox][value="13"]`)),
		waitJS(fmt.Sprintf(`document.querySelector('#target-count').dataset.devices === '%d'`, tokyoDisplays)))
	sato.do("type a bad phone number",
		cdp.SendKeys(css("input[name=headline-ja]"), "警察を名乗る電話に注意"),
		cdp.SendKeys(css("textarea[name=body-ja]"), "口座が危険です。090-1234-5678 に電話してください"),
		cdp.WaitVisible(css(`textarea[name=body-ja][aria-invalid=true]`)))
	bodyErr := sato.text("guard message", `[data-error-for="texts.ja.body"]`)
	if !strings.Contains(bodyErr, "090-1234-5678") || !strings.Contains(bodyErr, "許可リスト") {
		t.Errorf("content guard message next to the body says %q", bodyErr)
	}
	sato.shot("content-guard")

	proxy.Cut()
	sato.do("connection lost", cdp.WaitVisible(css(".banner-warn")))
	proxy.Restore()
	sato.do("reconnected", waitText("#banner", "再接続しました"),
		waitJS(`document.querySelector('input[name=headline-ja]').value === '警察を名乗る電話に注意'`),
		cdp.WaitVisible(css(`textarea[name=body-ja][aria-invalid=true]`)))
	sato.do("fix the body",
		clearField("textarea[name=body-ja]"),
		cdp.SendKeys(css("textarea[name=body-ja]"), "末尾が0110の番号から警察を名乗る電話がかかっています。ATMの操作を求める電話は詐欺です。"),
		waitJS(`!document.querySelector('[aria-invalid=true]')`))
	// Central checks the fit only once the rest is valid. An 80-rune
	// headline (the form limit) does not fit at the minimum headline size.
	long := string([]rune(strings.Repeat("警察を名乗る電話に注意してください。", 6))[:80])
	sato.do("a headline too long to fit", clearField("input[name=headline-ja]"), cdp.SendKeys(css("input[name=headline-ja]"), long),
		cdp.WaitVisible(css(`input[name=headline-ja][aria-invalid=true]`)),
		waitText(`[data-error-for="texts.ja.headline"]`, "画面に収まりません"))
	sato.shot("does-not-fit")
	sato.do("finish the texts",
		clearField("input[name=headline-ja]"),
		cdp.SendKeys(css("input[name=headline-ja]"), "警察を名乗る電話に注意"),
		cdp.SendKeys(css("input[name=instruction-ja]"), "電話を切り、110番に相談してください"),
		cdp.SendKeys(css("input[name=headline-en]"), "Beware of calls claiming to be the police"),
		cdp.SendKeys(css("textarea[name=body-en]"), "Calls from numbers ending in 0110 are scams. The police never ask you to use an ATM."),
		cdp.SendKeys(css("input[name=instruction-en]"), "Hang up and call 110"),
		waitJS(`!document.querySelector('[aria-invalid=true]') && document.querySelector('#preview-status').dataset.problems === '0'`),
		waitJS(previewReady("#preview-landscape")), waitJS(previewReady("#preview-portrait")))
	lw := evalT[int](sato, "preview size", `document.querySelector('#preview-landscape').naturalWidth`)
	lh := evalT[int](sato, "preview size", `document.querySelector('#preview-landscape').naturalHeight`)
	pw := evalT[int](sato, "preview size", `document.querySelector('#preview-portrait').naturalWidth`)
	ph := evalT[int](sato, "preview size", `document.querySelector('#preview-portrait').naturalHeight`)
	if lw <= lh || pw >= ph {
		t.Errorf("preview sizes: landscape %dx%d, portrait %dx%d", lw, lh, pw, ph)
	}
	sato.shot("compose-preview")
	// Save a draft, reopen it for editing (alerts.update), then submit.
	sato.do("save draft", cdp.Click(css("#save-draft")),
		waitJS(`location.hash.startsWith('#/alert/')`), cdp.WaitVisible(css(`[data-state="draft"]`)))
	sato.do("edit draft", cdp.Click(css("#act-edit")), cdp.WaitVisible(css("#compose-form")),
		waitJS(`document.querySelector('input[name=headline-en]').value === 'Beware of calls claiming to be the police'`),
		waitJS(fmt.Sprintf(`document.querySelector('#target-count').dataset.devices === '%d'`, tokyoDisplays)),
		waitJS(previewReady("#preview-landscape")))
	sato.do("save and submit", cdp.Click(css("#submit-alert")),
		waitJS(`location.hash.startsWith('#/alert/')`),
		cdp.WaitVisible(css(`[data-state="pending_approval"]`)))
	alertID := strings.TrimPrefix(evalT[string](sato, "alert id", `decodeURIComponent(location.hash)`), "#/alert/")
	if !strings.HasPrefix(alertID, "a-") {
		t.Fatalf("alert id %q", alertID)
	}

	// ---- the publisher cannot approve their own alert
	sato.do("approve own alert", cdp.Click(css("#act-approve")), cdp.WaitVisible(css(".view .msg-error")))
	if got := sato.text("own approval message", ".view .msg-error"); !strings.Contains(got, "二人承認ルール") {
		t.Errorf("own approval shows %q", got)
	}
	sato.shot("own-approval-refused")
	if al, err := a.Alerts.Get(context.Background(), central.System, alertID); err != nil || al.State != central.StatePending {
		t.Fatalf("after own approval attempt: %+v, %v", al, err)
	}

	// ---- the approver approves from the queue
	tanaka := br.newTab("tanaka")
	// The approver works in English: both UI languages appear in one run.
	tanaka.do("open console", cdp.Navigate(a.URL()+"/"), cdp.WaitVisible(css("#login-form input[name=username]")),
		setSelect("#lang-select", "en"), waitText("#login-title", "Log in"))
	login(tanaka, "tanaka", tanakaPW)
	changePassword(tanaka, tanakaPW, "tanaka-new-password-0110")
	item := fmt.Sprintf(`li[data-alert=%q]`, alertID)
	tanaka.do("approval queue", cdp.Navigate(a.URL()+"/#/approvals"), cdp.WaitVisible(css(item)),
		waitJS(fmt.Sprintf(`(() => { const imgs = [...document.querySelectorAll('%s img.preview')]; return imgs.length === 2 && imgs.every((i) => i.complete && i.naturalWidth > 0); })()`, item)))
	tanaka.shot("approval-queue")
	tanaka.do("approve", cdp.Click(css(item+" #act-approve")), waitText(".view > .msg-ok", alertID), cdp.WaitNotPresent(css(item)))

	// ---- delivery reaches the five Tokyo displays, live
	sato.do("delivery complete", cdp.WaitVisible(css(`[data-state="published"]`)),
		waitJS(bar("displayed", tokyoDisplays, tokyoDisplays)), waitJS(bar("received", tokyoDisplays, tokyoDisplays)),
		waitJS(bar("rejected", 0, tokyoDisplays)))
	waitAgents(t, ags, tokyo, "alert on screen", func(ag *agent.Agent) bool { sc, _ := ag.Current(); return sc.ID() == "alert:"+alertID })
	if sc, _ := ags["atm-27-0001"].Current(); sc.ID() == "alert:"+alertID {
		t.Errorf("the Osaka display shows the Tokyo alert")
	}
	sato.shot("delivered")
	tanaka.do("tablet view of the delivery", cdp.EmulateViewport(820, 1180),
		cdp.Navigate(a.URL()+"/#/alert/"+alertID), waitJS(bar("displayed", tokyoDisplays, tokyoDisplays)))
	tanaka.shot("tablet-delivered")
	tanaka.do("back to laptop size", cdp.EmulateViewport(1280, 900))

	// ---- cancel; "still displayed" counts down to 0
	sato.do("cancel", cdp.SendKeys(css(`input[aria-label="取り消しの理由"]`), "訓練終了"), cdp.Click(css("#act-cancel")),
		cdp.WaitVisible(css(`[data-state="cancelled"]`)),
		waitJS(`(() => { const e = document.querySelector('#still-displayed'); return !!e && e.dataset.n === '0'; })()`))
	waitAgents(t, ags, all, "alert gone", func(ag *agent.Agent) bool { sc, _ := ag.Current(); return sc.ID() != "alert:"+alertID })
	sato.shot("cancelled")
	sato.do("alerts list", cdp.Navigate(satoURL+"/#/alerts"),
		cdp.WaitVisible(css(fmt.Sprintf(`tr[data-alert=%q] [data-state="cancelled"]`, alertID))))
	sato.shot("alerts")

	// ---- the audit log shows who did what (approver's view), filtered
	tanaka.do("audit log", cdp.Navigate(a.URL()+"/#/audit"), cdp.WaitVisible(css("#audit-title")),
		waitText("main table", "alert.approve"), waitText("main table", "alert.cancel"))
	tanaka.shot("audit")
	tanaka.do("audit filter", cdp.SendKeys(css("#audit-action"), "alert.approve"), cdp.Click(css("#audit-filter")),
		waitJS(`(() => { const rows = [...document.querySelectorAll('main tbody tr')]; return rows.length === 1 && rows[0].textContent.includes('alert.approve'); })()`))

	// ---- device detail: screenshot and identify commands reach the agent
	dev := "atm-13-0001"
	admin.do("device detail", cdp.Navigate(a.URL()+"/#/device/"+dev), cdp.WaitVisible(css("#device-commands")),
		waitText("main", "e2e"))
	admin.do("request screenshot", cdp.Click(css("#cmd-screenshot")), cdp.WaitVisible(css("#device-commands ~ .msg-ok")),
		waitJS(`(() => { const i = document.querySelector('#device-screenshot'); return !!i && i.complete && i.naturalWidth > 0; })()`))
	admin.do("identify", cdp.Click(css("#cmd-identify")), waitText(".msg-ok", "identify"))
	waitAgents(t, ags, []string{dev}, "identify screen", func(ag *agent.Agent) bool { sc, _ := ag.Current(); return strings.Contains(sc.ID(), "identify") })
	admin.shot("device")

	// ---- campaign slide: the image type is checked before upload; a PNG
	// is uploaded and the slide created
	sato.do("campaigns page", cdp.Navigate(satoURL+"/#/campaigns"), cdp.WaitVisible(css("#camp-new")))
	dir := t.TempDir()
	notImage := filepath.Join(dir, "notes.txt")
	writeFile(t, notImage, []byte("this is not an image"))
	slide := filepath.Join(dir, "slide.png")
	writeFile(t, slide, testPNG(t))
	sato.do("upload a text file", cdp.SetUploadFiles(css("#camp-image"), []string{notImage}),
		waitText(`[data-error-for="data"]`, "PNG"))
	sato.do("upload a PNG", cdp.SetUploadFiles(css("#camp-image"), []string{slide}),
		cdp.WaitVisible(css("#camp-images li")),
		waitJS(`(() => { const i = document.querySelector('#camp-images img.thumb'); return !!i && i.complete && i.naturalWidth === 320; })()`))
	// The headline carries markup: it must come back as text, never as an
	// element (alert and slide texts are attacker-reachable).
	sato.do("create slide",
		cdp.SendKeys(css("#camp-form input[lang=ja]"), `ATMで携帯電話はやめて！<img src=x onerror="window.__xss=1">`),
		cdp.Click(css("#camp-create")),
		cdp.WaitVisible(css("tr[data-campaign]")), waitText("tr[data-campaign]", "ATMで携帯電話はやめて"),
		waitText("tr[data-campaign]", `<img src=x onerror="window.__xss=1">`))
	if evalT[bool](sato, "markup stays text", `!!window.__xss || !!document.querySelector('tr[data-campaign] img:not(.thumb)')`) {
		t.Error("a slide headline became markup in the console")
	}
	sato.do("second slide and reorder",
		cdp.SendKeys(css("#camp-form input[lang=ja]"), "暗証番号は誰にも教えないで"),
		cdp.Click(css("#camp-create")),
		waitJS(`document.querySelectorAll('tr[data-campaign]').length === 2`),
		waitText("tr[data-campaign]:nth-child(2)", "暗証番号"),
		cdp.Click(css("tr[data-campaign]:nth-child(2) button[aria-label^='上へ']")),
		waitText("tr[data-campaign]:nth-child(1)", "暗証番号"))
	sato.shot("campaign")

	// ---- CAP import makes a draft (never publishes)
	capFile := filepath.Join(dir, "warning.xml")
	now := time.Now().UTC()
	writeFile(t, capFile, []byte(fmt.Sprintf(capAlert, now.Add(24*time.Hour).Format(time.RFC3339), now.Format(time.RFC3339))))
	sato.do("import CAP", cdp.Navigate(satoURL+"/#/compose"), cdp.WaitVisible(css("#cap-file")),
		cdp.SetUploadFiles(css("#cap-file"), []string{capFile}),
		waitJS(`location.hash.startsWith('#/alert/')`), cdp.WaitVisible(css(`[data-state="draft"]`)),
		waitText("main", "渋谷警察署を名乗る電話に注意"))

	// ---- admin: allow-list and an enrollment token
	admin.do("allow-list", cdp.Navigate(a.URL()+"/#/guard"), cdp.WaitVisible(css("#guard-form")),
		waitJS(`document.querySelector('#guard-phones').value.includes('110')`),
		cdp.SendKeys(css("#guard-phones"), "\n0120-110-110"), cdp.Click(css("#guard-save")),
		cdp.WaitVisible(css("#guard-form .msg-ok")))
	if l, err := a.Alerts.AllowList(context.Background(), central.System); err != nil || !strings.Contains(strings.Join(l.Phones, ","), "0120") {
		t.Errorf("allow-list after saving: %+v, %v", l, err)
	}
	admin.do("enrollment token", cdp.Navigate(a.URL()+"/#/fleet"), cdp.WaitVisible(css("#enroll-create")),
		setSelect("#enroll-pref", "13"), cdp.Click(css("#enroll-create")), cdp.WaitVisible(css("#enroll-token code")))
	if tok := admin.text("enrollment token", "#enroll-token code"); len(tok) < 16 {
		t.Errorf("enrollment token %q", tok)
	}

	// ---- disabling a user ends their session: the page returns to login
	admin.do("disable sato", cdp.Navigate(a.URL()+"/#/users"), cdp.WaitVisible(css(`tr[data-user="sato"]`)),
		cdp.Click(css(`tr[data-user="sato"] button.danger`)))
	sato.do("session ended", cdp.WaitVisible(css("#login-form")), waitText("#login-form .msg", "セッションが終了"),
		cdp.WaitNotVisible(css("#logout")), cdp.WaitNotVisible(css("#nav")))
	sato.shot("session-revoked")
	tanaka.do("logout", cdp.Click(css("#logout")), cdp.WaitVisible(css("#login-form")), waitText("#login-form .msg", "logged out"))
}

// capAlert (a format string: expires, sent) is a CAP 1.2 warning with Japanese and English info blocks for
// Tokyo, as a police system might send it.
const capAlert = `<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>E2E-SHIBUYA-0110</identifier>
  <sender>e2e@keishicho.metro.tokyo.lg.jp</sender>
  <sent>%[2]s</sent>
  <status>Actual</status>
  <msgType>Alert</msgType>
  <scope>Public</scope>
  <info>
    <language>ja-JP</language>
    <category>Security</category>
    <event>特殊詐欺注意</event>
    <urgency>Immediate</urgency>
    <severity>Severe</severity>
    <certainty>Observed</certainty>
    <expires>%[1]s</expires>
    <senderName>警視庁</senderName>
    <headline>渋谷警察署を名乗る電話に注意</headline>
    <description>末尾0110の番号から渋谷警察署を名乗る電話がかかっています。</description>
    <instruction>電話を切り、110番に相談してください。</instruction>
    <area><areaDesc>東京都</areaDesc><geocode><valueName>JIS_PREF</valueName><value>13</value></geocode></area>
  </info>
  <info>
    <language>en-US</language>
    <category>Security</category>
    <event>Fraud warning</event>
    <urgency>Immediate</urgency>
    <severity>Severe</severity>
    <certainty>Observed</certainty>
    <expires>%[1]s</expires>
    <senderName>Tokyo Metropolitan Police</senderName>
    <headline>Calls claiming to be Shibuya Police Station</headline>
    <description>Calls from numbers ending in 0110 claim to be Shibuya Police Station.</description>
    <instruction>Hang up and call 110.</instruction>
    <area><areaDesc>Tokyo</areaDesc><geocode><valueName>JIS_PREF</valueName><value>13</value></geocode></area>
  </info>
</alert>
`

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// testPNG is a small real PNG (a campaign slide placeholder).
func testPNG(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 320, 180))
	for y := 0; y < 180; y++ {
		for x := 0; x < 320; x++ {
			img.Set(x, y, color.RGBA{uint8(200 - y/2), 30, uint8(x / 2), 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// renderPresenter is the headless presenter plus screenshots rendered by
// the display package's pure-Go renderer (the same pixels a kiosk shows),
// so the "screenshot" command has something real to upload.
type renderPresenter struct{ *agent.HeadlessPresenter }

func (p renderPresenter) Screenshot() ([]byte, error) {
	sc, _, n := p.Last()
	if n == 0 {
		sc = display.StandingScreen()
	}
	img, err := display.Render(sc, 480, 270)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// clearField empties an input or textarea as a user would (select all,
// delete), which fires the input event the console listens to.
func clearField(sel string) cdp.Action[cdp.Void] {
	return cdp.Evaluate[cdp.Void](fmt.Sprintf(`(() => { const e = document.querySelector(%q); e.focus(); e.value = ''; e.dispatchEvent(new Event('input', {bubbles: true})); })()`, sel))
}

// statIs: the fleet summary card shows n.
func statIs(kind string, n int) string {
	return fmt.Sprintf(`(() => { const e = document.querySelector('[data-stat=%s] .stat-num'); return !!e && e.textContent === '%d'; })()`, kind, n)
}

// setSelect sets a <select> the way a user does (value + change event).
func setSelect(sel, value string) cdp.Action[cdp.Void] {
	return cdp.Evaluate[cdp.Void](fmt.Sprintf(`(() => { const s = document.querySelector(%q); s.value = %q; s.dispatchEvent(new Event('change', {bubbles: true})); })()`, sel, value))
}

func login(tb *tab, name, pw string) {
	tb.b.t.Helper()
	tb.do("login "+name,
		cdp.SendKeys(css("input[name=username]"), name),
		cdp.SendKeys(css("input[name=password]"), pw),
		cdp.Click(css("#login-submit")))
}

// changePassword completes the first-run password change and waits for the
// console's navigation.
func changePassword(tb *tab, old, new string) {
	tb.b.t.Helper()
	tb.do("first-run password change",
		cdp.WaitVisible(css("#password-form")),
		cdp.SendKeys(css("input[name=old_password]"), old),
		cdp.SendKeys(css("input[name=new_password]"), new),
		cdp.SendKeys(css("input[name=confirm]"), new),
		cdp.Click(css("#pw-submit")),
		cdp.WaitVisible(css("#nav a[data-nav=fleet]")))
}

// createUser fills the admin's user form and returns the initial password
// the page shows once.
func createUser(tb *tab, name, role string) string {
	tb.b.t.Helper()
	tb.do("create user "+name,
		clearField("#new-username"),
		cdp.SendKeys(css("#new-username"), name),
		setSelect("#new-role", role),
		cdp.Click(css("#create-user")),
		cdp.WaitVisible(css(fmt.Sprintf(`#initial-password code[data-user=%q]`, name))),
		cdp.WaitVisible(css(fmt.Sprintf(`tr[data-user=%q]`, name))))
	pw := tb.text("initial password", "#initial-password code")
	if len(pw) < 12 {
		tb.b.t.Fatalf("initial password for %s is %q", name, pw)
	}
	return pw
}

// previewReady: the image is a decoded PNG from central and not stale.
func previewReady(sel string) string {
	return fmt.Sprintf(`(() => { const i = document.querySelector(%q); return !!i && !i.hidden && i.complete && i.naturalWidth > 0 && i.src.startsWith('data:image/png;base64,') && !i.classList.contains('stale'); })()`, sel)
}

// bar: the progress bar shows n of total (aria values, which screen readers
// announce).
func bar(kind string, n, total int) string {
	return fmt.Sprintf(`(() => { const b = document.querySelector('#bar-%s'); return !!b && b.getAttribute('aria-valuenow') === '%d' && b.getAttribute('aria-valuemax') === '%d'; })()`, kind, n, total)
}
