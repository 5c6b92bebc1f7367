package wsapi_test

import (
	"os"
	"regexp"
	"sort"
	"testing"

	"github.com/atmguard/kiosk/central/wsapi"
)

// TestDocumented: docs/ADMIN_API.md documents exactly the methods the
// server has (each as a bold **`name`** entry).
func TestDocumented(t *testing.T) {
	b, err := os.ReadFile("../../docs/ADMIN_API.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("\\*\\*`([a-z_]+\\.[a-z_]+)`\\*\\*").FindAllStringSubmatch(string(b), -1) {
		documented[m[1]] = true
	}
	served := map[string]bool{}
	for _, m := range wsapi.Methods() {
		served[m] = true
		if !documented[m] {
			t.Errorf("method %s is not documented in docs/ADMIN_API.md", m)
		}
	}
	var extra []string
	for m := range documented {
		if !served[m] {
			extra = append(extra, m)
		}
	}
	sort.Strings(extra)
	if len(extra) > 0 {
		t.Errorf("documented but not served: %v", extra)
	}
}
