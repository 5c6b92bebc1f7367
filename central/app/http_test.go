package app_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"image"
	"image/png"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/atmguard/kiosk/agent"
	"github.com/atmguard/kiosk/central"
	"github.com/atmguard/kiosk/central/app"
	"github.com/atmguard/kiosk/central/keys"
	"github.com/atmguard/kiosk/display"
	"github.com/atmguard/kiosk/internal/wire"
)

func pngBytes(t *testing.T, w, h int) []byte {
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewRGBA(image.Rect(0, 0, w, h))); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func do(t *testing.T, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func TestHTTPAPI(t *testing.T) {
	a := app.NewTest(t)
	ctx := context.Background()
	pubActor, pubPW := a.NewTestUser(t, "pub", central.RolePublisher)

	t.Run("content", func(t *testing.T) {
		img := pngBytes(t, 8, 8)
		ref, err := a.Alerts.UploadImage(ctx, pubActor, img)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(img)
		if ref.SHA256 != hex.EncodeToString(sum[:]) || ref.MediaType != "image/png" {
			t.Fatalf("ref %+v", ref)
		}
		req, _ := http.NewRequest("GET", a.URL()+"/content/"+ref.SHA256, nil)
		resp, body := do(t, req)
		if resp.StatusCode != 200 || !bytes.Equal(body, img) || resp.Header.Get("Content-Type") != "image/png" {
			t.Fatalf("GET content: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		for path, code := range map[string]int{
			"/content/" + strings.Repeat("0", 64): 404,
			"/content/../../etc/passwd":           404,
			"/content/ABC":                        400,
		} {
			req, _ := http.NewRequest("GET", a.URL()+path, nil)
			if resp, _ := do(t, req); resp.StatusCode != code {
				t.Errorf("GET %s: %d, want %d", path, resp.StatusCode, code)
			}
		}
		if _, err := a.Alerts.UploadImage(ctx, pubActor, []byte("<svg/>")); central.ErrorCode(err) != central.CodeInvalid {
			t.Errorf("svg upload: %v", err)
		}
	})

	t.Run("screenshot", func(t *testing.T) {
		pw, err := a.RegisterDevice("atm-1", "br-1", "13")
		if err != nil {
			t.Fatal(err)
		}
		post := func(user, pass string, body []byte) int {
			req, _ := http.NewRequest("POST", a.URL()+"/api/v1/devices/atm-1/screenshot", bytes.NewReader(body))
			req.Header.Set("Content-Type", "image/png")
			if user != "" {
				req.SetBasicAuth(user, pass)
			}
			resp, _ := do(t, req)
			return resp.StatusCode
		}
		shot := pngBytes(t, 16, 9)
		if c := post("", "", shot); c != 401 {
			t.Errorf("no auth: %d", c)
		}
		if c := post("atm-1", "wrong", shot); c != 401 {
			t.Errorf("wrong password: %d", c)
		}
		pw2, _ := a.RegisterDevice("atm-2", "br-1", "13")
		if c := post("atm-2", pw2, shot); c != 401 {
			t.Errorf("another device's credentials: %d", c)
		}
		if c := post("atm-1", pw, []byte("not a png")); c != 400 {
			t.Errorf("not a png: %d", c)
		}
		if c := post("atm-1", pw, shot); c != 204 {
			t.Fatalf("upload: %d", c)
		}
		s, err := a.Registry.Screenshot(ctx, a.Admin(t), "atm-1")
		if err != nil || !bytes.Equal(s.PNG, shot) {
			t.Fatalf("stored screenshot: %v", err)
		}
	})

	t.Run("enroll errors", func(t *testing.T) {
		for _, tc := range []struct{ body, field string }{
			{`{"token":"kt_nope","config":"version = 1\n[device]\nid = \"atm-5\"\nbranch = \"b\"\nprefecture = \"13\"\n"}`, "token"},
			{`{"token":"kt_nope","config":"[device]\nid = \"bad id!\"\nbranch = \"b\"\nprefecture = \"13\"\n"}`, "config.device.id"},
			{`{"token":1}`, ""},
		} {
			req, _ := http.NewRequest("POST", a.URL()+"/api/v1/enroll", strings.NewReader(tc.body))
			resp, body := do(t, req)
			var e struct{ Error, Field string }
			json.Unmarshal(body, &e)
			if resp.StatusCode < 400 || resp.StatusCode >= 500 || e.Error == "" || (tc.field != "" && e.Field != tc.field) {
				t.Errorf("%s: %d %s", tc.body, resp.StatusCode, body)
			}
		}
	})

	t.Run("preview", func(t *testing.T) {
		al, err := a.Alerts.CreateDraft(ctx, pubActor, alertInput(central.Target{Branches: []string{"br-1"}}, "警察を名乗る電話に注意"))
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest("GET", a.URL()+"/api/v1/alerts/"+al.ID+"/preview.png?orientation=portrait&lang=en", nil)
		if resp, _ := do(t, req); resp.StatusCode != 401 {
			t.Fatalf("preview without session: %d", resp.StatusCode)
		}
		sess, err := a.Users.Login(ctx, "pub", pubPW, "127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+sess.Token)
		resp, body := do(t, req)
		if resp.StatusCode != 200 {
			t.Fatalf("preview: %d %s", resp.StatusCode, body)
		}
		img, err := png.Decode(bytes.NewReader(body))
		if err != nil || img.Bounds().Dx() != 1080 || img.Bounds().Dy() != 1920 {
			t.Fatalf("preview image: %v %v", err, img.Bounds())
		}
		// The preview is the exact frame the display renderer draws.
		w := al.Wire()
		want, err := display.Render(display.Screen{Kind: display.KindAlert, Lang: "en", Alert: &w}, 1080, 1920)
		if err != nil {
			t.Fatal(err)
		}
		rgba := image.NewRGBA(img.Bounds())
		for y := 0; y < 1920; y++ {
			for x := 0; x < 1080; x++ {
				rgba.Set(x, y, img.At(x, y))
			}
		}
		if display.FrameHash(rgba) != display.FrameHash(want) {
			t.Fatal("preview differs from display.Render")
		}
	})

	t.Run("healthz and metrics", func(t *testing.T) {
		req, _ := http.NewRequest("GET", a.URL()+"/healthz", nil)
		resp, body := do(t, req)
		if resp.StatusCode != 200 || !strings.Contains(string(body), `"mqtt":true`) {
			t.Fatalf("healthz: %d %s", resp.StatusCode, body)
		}
		req, _ = http.NewRequest("GET", a.URL()+"/metrics", nil)
		resp, body = do(t, req)
		for _, m := range []string{"kiosk_central_devices 2", "kiosk_central_mqtt_connected 1", "kiosk_central_ingest_messages_total", "kiosk_central_broker_clients"} {
			if !strings.Contains(string(body), m) {
				t.Errorf("metrics lack %q", m)
			}
		}
	})
}

// TestCommandAndCampaign sends a signed identify command to a real agent
// core and publishes a campaign slide with an image it fetches by sha256.
func TestCommandAndCampaign(t *testing.T) {
	a := app.NewTest(t)
	ctx := context.Background()
	pw, err := a.RegisterDevice("atm-13-0001", "br-1", "13")
	if err != nil {
		t.Fatal(err)
	}
	ag, err := agent.New(agent.Options{DeviceID: "atm-13-0001", Branch: "br-1", Pref: "13", BrokerURL: a.BrokerURL(),
		Username: "atm-13-0001", Password: pw, Keys: a.Keys.KeyRing(keys.Signing), CentralURL: a.URL(),
		CachePath: t.TempDir() + "/cache.db", Logger: app.QuietLogger(), ReconnectJitter: -1, StatusMinInterval: 50 * time.Millisecond, IdentifyDuration: 2 * time.Second,
		Presenter: agent.NewRenderPresenter(1280, 720)})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); ag.Run(runCtx) }()
	defer func() { cancel(); <-done }()
	changes := a.Registry.Subscribe(ctx)
	admin := a.Admin(t)
	waitChange(t, "agent online", changes, func() bool {
		d, err := a.Registry.Get(ctx, admin, "atm-13-0001")
		return err == nil && d.Online
	})
	waitAgent := func(what string, cond func(display.Screen) bool) {
		t.Helper()
		deadline := time.After(60 * time.Second)
		for {
			ch := ag.Changed()
			if sc, _ := ag.Current(); cond(sc) {
				return
			}
			select {
			case <-ch:
			case <-deadline:
				sc, _ := ag.Current()
				t.Fatalf("agent never showed %s (shows %s)", what, sc.ID())
			}
		}
	}

	tech, _ := a.NewTestUser(t, "tech", central.RoleFieldTech)
	cmd, err := a.Registry.SendCommand(ctx, tech, "atm-13-0001", wire.CmdIdentify)
	if err != nil {
		t.Fatal(err)
	}
	waitAgent("identify", func(s display.Screen) bool { return s.Kind == display.KindIdentify })
	if cmd.Expires.Sub(cmd.Issued) > wire.MaxCommandLifetime {
		t.Fatalf("command lifetime %s", cmd.Expires.Sub(cmd.Issued))
	}
	// Screenshot: the agent uploads its current frame with its own credentials.
	if _, err := a.Registry.SendCommand(ctx, tech, "atm-13-0001", wire.CmdScreenshot); err != nil {
		t.Fatal(err)
	}
	waitChange(t, "screenshot uploaded", changes, func() bool {
		d, _ := a.Registry.Get(ctx, admin, "atm-13-0001")
		return !d.Screenshot.IsZero()
	})
	shot, err := a.Registry.Screenshot(ctx, tech, "atm-13-0001")
	if err != nil {
		t.Fatal(err)
	}
	if img, err := png.Decode(bytes.NewReader(shot.PNG)); err != nil || img.Bounds().Dx() != 1280 || img.Bounds().Dy() != 720 {
		t.Fatalf("screenshot: %v", err)
	}

	pub, _ := a.NewTestUser(t, "pub", central.RolePublisher)
	appr, _ := a.NewTestUser(t, "appr", central.RoleApprover)
	ref, err := a.Alerts.UploadImage(ctx, pub, pngBytes(t, 64, 64))
	if err != nil {
		t.Fatal(err)
	}
	in := central.CampaignInput{DurationSec: 30, Images: []wire.ContentRef{ref}, Target: central.Target{All: true},
		Texts:   []wire.Text{{Lang: "ja", Headline: "ATMでの携帯電話は使わないで", Body: "還付金がATMで戻ることはありません。"}},
		Expires: time.Now().Add(24 * time.Hour)}
	c, err := a.Alerts.CreateItem(ctx, pub, in)
	if err != nil {
		t.Fatal(err)
	}
	bad := in
	bad.Images = []wire.ContentRef{{SHA256: strings.Repeat("a", 64), Size: 10, MediaType: "image/png"}}
	if _, err := a.Alerts.CreateItem(ctx, pub, bad); central.ErrorField(err) != "images[0]" {
		t.Fatalf("slide with an image never uploaded: %v", err)
	}
	if _, err := a.Alerts.PublishItem(ctx, pub, c.ID, c.Version); central.ErrorCode(err) != central.CodeTwoPersonRule {
		t.Fatalf("publish slide to all without approval: %v", err)
	}
	c, _ = a.Alerts.SubmitItem(ctx, pub, c.ID, c.Version)
	if _, err := a.Alerts.ApproveItem(ctx, appr, c.ID, c.Version); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Registry.SendCommand(ctx, tech, "atm-13-0001", wire.CmdReload); err != nil {
		t.Fatal(err)
	}
	waitAgent("campaign slide", func(s display.Screen) bool {
		return s.Kind == display.KindCampaign && s.Item != nil && s.Item.ID == c.ID && len(s.Images[ref.SHA256]) > 0
	})
}
