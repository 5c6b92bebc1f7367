package agent

import (
	"net/http"
	"strings"
	"testing"
)

// TestLocalAPIHostCheck: a page on a DNS-rebinding name resolving to
// 127.0.0.1 reaches the loopback port from the device's browser; its
// requests carry that name as Host and must be refused before any handler.
func TestLocalAPIHostCheck(t *testing.T) {
	sg := testSigner(t, 1)
	a, _, _ := fakeAgent(t, sg, t0, func(o *Options) { o.LocalAPIAddr = "127.0.0.1:0" })
	base := "http://" + a.LocalAddr()
	cases := []struct {
		host string
		want int
	}{
		{a.LocalAddr(), http.StatusOK},
		{"127.0.0.1", http.StatusOK},
		{"localhost", http.StatusOK},
		{"LOCALHOST:8765", http.StatusOK},
		{"localhost:8765", http.StatusOK},
		{"[::1]:8765", http.StatusOK},
		{"[::1]", http.StatusOK},
		{"127.5.6.7:80", http.StatusOK},
		{"rebind.attacker.example", http.StatusMisdirectedRequest},
		{"rebind.attacker.example:8765", http.StatusMisdirectedRequest},
		{"localhost.attacker.example", http.StatusMisdirectedRequest},
		{"127.0.0.1.nip.io", http.StatusMisdirectedRequest},
		{"10.0.0.5:8765", http.StatusMisdirectedRequest},
		{"0.0.0.0", http.StatusMisdirectedRequest},
		{"::1", http.StatusMisdirectedRequest}, // unbracketed IPv6 is not a valid Host
		{"localhost:", http.StatusMisdirectedRequest},
		{"localhost:99999", http.StatusMisdirectedRequest},
	}
	for _, tc := range cases {
		for _, m := range []struct{ method, path, body string }{
			{"GET", "/v1/status", ""},
			{"POST", "/v1/trigger", `{"event":"phone-detected"}`},
		} {
			req, _ := http.NewRequest(m.method, base+m.path, strings.NewReader(m.body))
			req.Host = tc.host
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("%s %s Host %q: %v", m.method, m.path, tc.host, err)
			}
			resp.Body.Close()
			want := tc.want
			if want == http.StatusOK && m.method == "POST" {
				want = http.StatusAccepted
			}
			if resp.StatusCode != want {
				t.Errorf("%s %s Host %q: got %d, want %d", m.method, m.path, tc.host, resp.StatusCode, want)
			}
		}
	}
}
