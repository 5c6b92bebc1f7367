package console

import (
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

//go:embed assets
var assets embed.FS

// Assets returns the embedded files (index.html, app.css, js/*.js), rooted at
// the console's top directory.
func Assets() fs.FS {
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		// fs.Sub only fails on an invalid path literal, fixed at compile time.
		panic(err)
	}
	return sub
}

var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
	".png":  "image/png",
}

// Handler serves the console. Mount it at "/": it answers "/" and
// "/index.html" with the page and "/<asset>" with the embedded files, and
// 404 for anything else (no directory listings, no SPA fallback, so typos in
// API paths are not masked by the page).
func Handler() http.Handler {
	files := Assets()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
		if name == "" {
			name = "index.html"
		}
		ct, ok := contentTypes[path.Ext(name)]
		if !ok {
			http.NotFound(w, r)
			return
		}
		data, err := fs.ReadFile(files, name)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Type", ct)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		// The assets change with the binary; revalidation is cheap and avoids
		// a stale app.js talking to a newer API after an upgrade.
		h.Set("Cache-Control", "no-cache")
		h.Set("Content-Security-Policy", csp)
		if r.Method == http.MethodHead {
			return
		}
		_, _ = w.Write(data)
	})
}

// csp: 'self' in connect-src covers ws:// and wss:// to the same host in
// CSP level 3 browsers (Chromium, Firefox, Safari 15.4+).
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " +
	"connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
