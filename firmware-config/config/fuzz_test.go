package config

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// FuzzParse: Parse never panics; every error points into the file; a config
// it accepts is valid and survives Marshal -> Parse unchanged.
//
//	go test -run=NONE -fuzz=FuzzParse -fuzztime=60s ./firmware-config/config
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "broken", "*.toml"))
	files = append(files, filepath.Join("testdata", "example.toml"))
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(minimal))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, "f.toml")
		if err != nil {
			var es Errors
			if !errors.As(err, &es) || len(es) == 0 {
				t.Fatalf("error is not a non-empty Errors: %T %v", err, err)
			}
			lines := bytes.Count(data, []byte("\n")) + 1
			for _, e := range es {
				if e.File != "f.toml" || e.Line < 0 || e.Line > lines || e.Msg == "" {
					t.Fatalf("bad position or message: %+v (file has %d lines)", e, lines)
				}
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("accepted config fails Validate: %v", err)
		}
		back, err := Parse(c.Marshal(), "m.toml")
		if err != nil {
			t.Fatalf("Marshal output does not parse: %v\n%s", err, c.Marshal())
		}
		if !reflect.DeepEqual(exported(back), exported(c)) {
			t.Fatalf("round trip changed the config:\n%+v\n%+v", exported(c), exported(back))
		}
	})
}
