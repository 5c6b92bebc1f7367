package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/atmguard/kiosk/central"
	"github.com/atmguard/kiosk/central/app"
	"github.com/atmguard/kiosk/central/wsclient"
	"github.com/atmguard/kiosk/firmware-config/config"
)

// TestEnrollRateLimit: failed token checks from one address are limited;
// past the limit even a valid token is answered 429 until the window ends.
func TestEnrollRateLimit(t *testing.T) {
	a := app.NewTest(t)
	ctx := context.Background()
	tech, _ := a.NewTestUser(t, "tech", central.RoleFieldTech)
	d := config.Default()
	d.Device = config.Device{ID: "atm-13-0777", Branch: "br-1", Prefecture: "13"}
	post := func(tok string) int {
		t.Helper()
		body, _ := json.Marshal(central.EnrollRequest{Token: tok, Config: string(d.Marshal())})
		resp, err := http.Post(a.URL()+"/api/v1/enroll", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	for i := 0; i < 10; i++ {
		if code := post(fmt.Sprintf("kt_guess-%d", i)); code != http.StatusUnauthorized {
			t.Fatalf("guess %d: HTTP %d", i, code)
		}
	}
	good, _, err := a.Enroll.CreateToken(ctx, tech, central.EnrollTokenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if code := post(good); code != http.StatusTooManyRequests {
		t.Fatalf("after 10 failures: HTTP %d, want 429", code)
	}
}

// TestHTTPTimeouts: a client that sends headers and then stalls its body is
// cut off after the read timeout; a console WebSocket (hijacked, deadlines
// cleared on upgrade) outlives the write timeout.
func TestHTTPTimeouts(t *testing.T) {
	a := app.NewTest(t, func(c *app.Config) {
		c.HTTPReadTimeout, c.HTTPWriteTimeout, c.HTTPIdleTimeout = 300*time.Millisecond, 300*time.Millisecond, 300*time.Millisecond
	})
	conn, err := net.Dial("tcp", a.HTTPAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /api/v1/enroll HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{", a.HTTPAddr())
	conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	_, err = io.ReadAll(conn)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatal("a stalled request body held the connection for 20 s")
	}

	c, _, err := wsclient.Dial(context.Background(), "ws://"+a.HTTPAddr()+"/ws", wsclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	time.Sleep(time.Second) // past every HTTP timeout (not waiting for a condition)
	var out map[string]any
	err = c.Call(context.Background(), "auth.login", map[string]string{"name": "nobody", "password": "wrong-password-123456"}, &out)
	var werr *wsclient.Error // the server answered (a refusal), the session is alive
	if !errors.As(err, &werr) {
		t.Fatalf("console session after the HTTP timeouts: %v", err)
	}
}
