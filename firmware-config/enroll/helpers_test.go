package enroll_test

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

var servers sync.Map

func newServer(t *testing.T, h http.Handler) string {
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	servers.Store(s.URL, s)
	return s.URL
}

func closeServer(url string) {
	if s, ok := servers.Load(url); ok {
		s.(*httptest.Server).Close()
	}
}
