package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/atmguard/kiosk/central"
	"github.com/atmguard/kiosk/central/store"
)

// Limits on request bodies.
const (
	MaxScreenshotBytes = 8 << 20
	MaxEnrollBytes     = 256 << 10
)

// DeviceAuth checks device credentials; ScreenshotSaver stores uploads.
type DeviceAuth interface {
	CheckDevicePassword(id, password string) bool
	SaveScreenshot(id string, png []byte) error
}

// Health reports component state for /healthz.
type Health func() map[string]bool

// Config wires the handler.
type Config struct {
	DB       *store.DB
	Users    central.UserService // authenticates preview requests (Bearer session token)
	Alerts   central.AlertService
	Enroll   central.EnrollService
	Devices  DeviceAuth
	Health   Health
	Registry *prometheus.Registry // gathered at /metrics
	WS       http.Handler         // mounted at /ws
	Console  http.Handler         // mounted at /
	Logger   *slog.Logger
}

var shaRe = regexp.MustCompile(`^[0-9a-f]{64}$`)

// New returns the HTTP handler.
func New(cfg Config) http.Handler {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	h := &handler{cfg: cfg, log: log}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /content/{sha}", h.content)
	mux.HandleFunc("GET /api/v1/alerts/{id}/preview.png", h.preview)
	mux.HandleFunc("POST /api/v1/devices/{id}/screenshot", h.screenshot)
	mux.HandleFunc("POST /api/v1/enroll", h.enroll)
	mux.HandleFunc("GET /healthz", h.healthz)
	if cfg.Registry != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(cfg.Registry, promhttp.HandlerOpts{}))
	}
	if cfg.WS != nil {
		mux.Handle("/ws", cfg.WS)
	}
	if cfg.Console != nil {
		mux.Handle("/", cfg.Console)
	}
	return mux
}

type handler struct {
	cfg Config
	log *slog.Logger
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// httpStatus maps a service error to a status code.
func httpStatus(err error) int {
	switch central.ErrorCode(err) {
	case central.CodeNotFound:
		return http.StatusNotFound
	case central.CodeUnauthorized:
		return http.StatusUnauthorized
	case central.CodeForbidden:
		return http.StatusForbidden
	case central.CodeConflict:
		return http.StatusConflict
	case central.CodeInvalid, central.CodeContentGuard, central.CodeTwoPersonRule:
		return http.StatusBadRequest
	case central.CodeRateLimited:
		return http.StatusTooManyRequests
	case central.CodeUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	code := httpStatus(err)
	msg := err.Error()
	if code == http.StatusInternalServerError {
		h.log.Error("http request failed", "path", r.URL.Path, "err", err)
		msg = "internal error"
	}
	var fe *central.FieldError
	if errors.As(err, &fe) {
		msg = fe.Message
	}
	writeJSON(w, code, map[string]string{"error": msg, "field": central.ErrorField(err), "code": central.ErrorCode(err)})
}

func (h *handler) content(w http.ResponseWriter, r *http.Request) {
	sha := r.PathValue("sha")
	if !shaRe.MatchString(sha) {
		http.Error(w, "content id must be 64 lower-case hex digits", http.StatusBadRequest)
		return
	}
	var b *store.Blob
	err := h.cfg.DB.View(func(tx *store.Tx) error {
		var err error
		b, err = tx.Blob(sha)
		return err
	})
	if err != nil {
		if errors.Is(err, central.ErrNotFound) {
			http.Error(w, "no such content", http.StatusNotFound)
			return
		}
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", b.MediaType)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	w.Header().Set("ETag", `"`+sha+`"`)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(b.Data))
}

func (h *handler) actor(r *http.Request) (central.Actor, error) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || h.cfg.Users == nil {
		return central.Actor{}, fmt.Errorf("%w: send Authorization: Bearer <session token>", central.ErrUnauthorized)
	}
	a, err := h.cfg.Users.Authenticate(r.Context(), tok)
	if err != nil {
		return central.Actor{}, err
	}
	a.Remote = remoteAddr(r)
	return a, nil
}

func remoteAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (h *handler) preview(w http.ResponseWriter, r *http.Request) {
	actor, err := h.actor(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	png, err := h.cfg.Alerts.Preview(r.Context(), actor, central.PreviewRequest{AlertID: r.PathValue("id"),
		Lang: q.Get("lang"), Orientation: central.Orientation(q.Get("orientation"))})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(png)
}

func (h *handler) screenshot(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	user, pass, ok := r.BasicAuth()
	if !ok || user != id || !h.cfg.Devices.CheckDevicePassword(id, pass) {
		w.Header().Set("WWW-Authenticate", `Basic realm="kiosk device"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "device credentials required (basic auth, user = device id)"})
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "" && ct != "image/png" {
		writeJSON(w, http.StatusUnsupportedMediaType, map[string]string{"error": "send image/png"})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxScreenshotBytes))
	if err != nil {
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"error": fmt.Sprintf("screenshot larger than %d bytes", MaxScreenshotBytes)})
		return
	}
	if !bytes.HasPrefix(body, []byte("\x89PNG\r\n\x1a\n")) {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "body is not a PNG image"})
		return
	}
	if err := h.cfg.Devices.SaveScreenshot(id, body); err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *handler) enroll(w http.ResponseWriter, r *http.Request) {
	if h.cfg.Enroll == nil {
		h.fail(w, r, fmt.Errorf("%w: enrollment is not configured", central.ErrUnavailable))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxEnrollBytes))
	if err != nil {
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"error": fmt.Sprintf("request larger than %d bytes", MaxEnrollBytes)})
		return
	}
	var req central.EnrollRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "body must be JSON {\"token\":..., \"config\":...}: " + err.Error()})
		return
	}
	resp, err := h.cfg.Enroll.Enroll(r.Context(), req, remoteAddr(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func (h *handler) healthz(w http.ResponseWriter, r *http.Request) {
	st := map[string]bool{}
	if h.cfg.Health != nil {
		st = h.cfg.Health()
	}
	ok := true
	for _, v := range st {
		ok = ok && v
	}
	code := http.StatusOK
	if !ok {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, map[string]any{"ok": ok, "checks": st})
}
