package agent

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/atmguard/kiosk/internal/wire"
)

// localAPI is the loopback HTTP API for the ATM side (docs/AGENT.md):
//
//	POST /v1/trigger  {"event":"phone-detected"}   -> 202 {"event":..,"screen":..}
//	POST /v1/identify {"seconds":60} (body optional) -> 202
//	GET  /v1/status                                 -> 200 status JSON
//
// POSTs must carry Content-Type application/json: a web page in some local
// browser cannot send that cross-origin without a preflight this API never
// answers, so it cannot fire triggers. Requests whose Host is not a
// loopback IP or "localhost" get 421: a page on a DNS-rebinding name that
// resolves to 127.0.0.1 is same-origin with that name, so the content-type
// rule alone would not stop it.
func (a *Agent) localAPI() http.Handler {
	return loopbackHostOnly(a.localMux())
}

func loopbackHostOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !loopbackHost(r.Host) {
			writeJSON(w, http.StatusMisdirectedRequest, map[string]string{"error": "Host must be localhost or a loopback address, not " + quoteShort(r.Host)})
			return
		}
		h.ServeHTTP(w, r)
	})
}

// loopbackHost: "localhost" or a loopback IP literal ("127.0.0.1",
// "[::1]"), each with an optional port.
func loopbackHost(hostport string) bool {
	host := hostport
	if h, port, err := net.SplitHostPort(hostport); err == nil {
		if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
			return false
		}
		host = h
	} else if strings.HasPrefix(hostport, "[") && strings.HasSuffix(hostport, "]") {
		host = hostport[1 : len(hostport)-1]
	} else if strings.Contains(hostport, ":") {
		return false // unbracketed IPv6 or a malformed port
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (a *Agent) localMux() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/trigger", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Event string `json:"event"`
		}
		if !decodeJSON(w, r, &req, false) {
			return
		}
		t, ok := a.o.Triggers[req.Event]
		if !ok {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unknown event " + quoteShort(req.Event), "field": "event"})
			return
		}
		if err := a.Trigger(r.Context(), req.Event); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
			return
		}
		resp := map[string]any{"event": req.Event}
		switch {
		case t.Clear:
			resp["action"] = "clear"
		case t.Kind == "":
			resp["action"] = "ignored"
		default:
			resp["action"], resp["screen"], resp["seconds"] = "show", t.Kind, int(t.Duration/time.Second)
		}
		writeJSON(w, http.StatusAccepted, resp)
	})
	mux.HandleFunc("POST /v1/identify", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Seconds int `json:"seconds"`
		}
		if !decodeJSON(w, r, &req, true) {
			return
		}
		if req.Seconds < 0 || req.Seconds > 600 {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "seconds must be 0..600", "field": "seconds"})
			return
		}
		if err := a.Identify(r.Context(), time.Duration(req.Seconds)*time.Second); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusAccepted, map[string]any{"action": "identify"})
	})
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		st := a.status(wire.StateOnline)
		writeJSON(w, http.StatusOK, map[string]any{"status": st, "connected": a.connected.Load(), "stats": a.Stats()})
	})
	return mux
}

func decodeJSON(w http.ResponseWriter, r *http.Request, v any, optional bool) bool {
	body := http.MaxBytesReader(w, r.Body, 1024)
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		writeJSON(w, http.StatusUnsupportedMediaType, map[string]string{"error": "Content-Type must be application/json"})
		return false
	}
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if optional && errors.Is(err, io.EOF) {
			return true
		}
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad JSON body: " + err.Error()})
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func quoteShort(s string) string {
	if len(s) > 40 {
		s = s[:40] + "..."
	}
	b, _ := json.Marshal(s)
	return string(b)
}
