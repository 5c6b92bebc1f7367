package console

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func TestHandlerServesAssets(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()
	for _, tc := range []struct {
		path, ctype, contains string
	}{
		{"/", "text/html; charset=utf-8", `<script type="module" src="js/app.js">`},
		{"/index.html", "text/html; charset=utf-8", "<main id=\"main\""},
		{"/app.css", "text/css; charset=utf-8", ".bar-fill"},
		{"/js/app.js", "text/javascript; charset=utf-8", "import { Api }"},
		{"/js/views/compose.js", "text/javascript; charset=utf-8", "alerts.preview"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			resp, err := http.Get(srv.URL + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			if got := resp.Header.Get("Content-Type"); got != tc.ctype {
				t.Errorf("Content-Type %q, want %q", got, tc.ctype)
			}
			csp := resp.Header.Get("Content-Security-Policy")
			for _, want := range []string{"script-src 'self'", "default-src 'none'", "frame-ancestors 'none'"} {
				if !strings.Contains(csp, want) {
					t.Errorf("CSP %q lacks %q", csp, want)
				}
			}
			if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Error("no nosniff")
			}
			if !strings.Contains(string(body), tc.contains) {
				t.Errorf("body lacks %q", tc.contains)
			}
		})
	}
}

func TestHandlerRefuses(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()
	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{"GET", "/nope.html", 404},
		{"GET", "/js/", 404},           // no directory listing
		{"GET", "/js", 404},            // directory without extension
		{"GET", "/../console.go", 404}, // cleaned to /console.go: not embedded
		{"GET", "/ws", 404},            // not the console's: must not mask API paths
		{"GET", "/doc.go", 404},
		{"POST", "/", 405},
		{"HEAD", "/app.css", 200},
	} {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s %s: status %d, want %d", tc.method, tc.path, resp.StatusCode, tc.want)
		}
	}
}

// TestNoHTMLSinks keeps the rule that server data never becomes markup: the
// console's scripts must not use any API that parses a string as HTML or
// code. A new use of one fails here and needs a reviewed exception.
func TestNoHTMLSinks(t *testing.T) {
	sinks := regexp.MustCompile(`\.innerHTML|\.outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function\(|setAttribute\(\s*['"]on|\.srcdoc|createContextualFragment`)
	n := 0
	err := fs.WalkDir(Assets(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".js") {
			return err
		}
		n++
		b, err := fs.ReadFile(Assets(), p)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(b), "\n") {
			if sinks.MatchString(line) {
				t.Errorf("%s:%d uses an HTML/code sink: %s", p, i+1, strings.TrimSpace(line))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 5 {
		t.Fatalf("walked only %d scripts", n)
	}
}

// TestI18nKeysComplete checks both languages define the same keys, so a
// switched UI never shows a raw key.
func TestI18nKeysComplete(t *testing.T) {
	b, err := fs.ReadFile(Assets(), "js/i18n.js")
	if err != nil {
		t.Fatal(err)
	}
	src := string(b)
	ja := src[strings.Index(src, "  ja: {"):strings.Index(src, "  en: {")]
	en := src[strings.Index(src, "  en: {"):strings.Index(src, "let lang")]
	key := regexp.MustCompile(`'([a-zA-Z_.]+)':`)
	set := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, k := range key.FindAllStringSubmatch(s, -1) {
			m[k[1]] = true
		}
		return m
	}
	jk, ek := set(ja), set(en)
	if len(jk) < 100 {
		t.Fatalf("only %d ja keys parsed", len(jk))
	}
	for k := range jk {
		if !ek[k] {
			t.Errorf("key %q missing in en", k)
		}
	}
	for k := range ek {
		if !jk[k] {
			t.Errorf("key %q missing in ja", k)
		}
	}
	// Every t('...') used by the scripts must exist.
	use := regexp.MustCompile(`\bt\('([a-zA-Z_.]*[a-zA-Z_])'`) // dynamic keys ('state.' + s) end in a dot and are skipped
	_ = fs.WalkDir(Assets(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".js") {
			return err
		}
		b, _ := fs.ReadFile(Assets(), p)
		for _, m := range use.FindAllStringSubmatch(string(b), -1) {
			if !ek[m[1]] {
				t.Errorf("%s uses undefined key %q", p, m[1])
			}
		}
		return nil
	})
}
