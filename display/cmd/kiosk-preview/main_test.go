package main

import (
	"bytes"
	"image"
	"image/draw"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atmguard/kiosk/display"
)

func TestPreviewIsTheRenderersFrame(t *testing.T) {
	out := filepath.Join(t.TempDir(), "a.png")
	if err := run([]string{"-in", "../../testdata/alert-0110.json", "-o", out, "-size", "1080x1920", "-lang", "en", "-check"}, nil, nil); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	got := image.NewRGBA(img.Bounds())
	draw.Draw(got, got.Bounds(), img, img.Bounds().Min, draw.Src)
	data, _ := os.ReadFile("../../testdata/alert-0110.json")
	s, err := display.DecodeScreenJSON(data)
	if err != nil {
		t.Fatal(err)
	}
	s.Lang = "en"
	want, err := display.Render(s, 1080, 1920)
	if err != nil {
		t.Fatal(err)
	}
	if display.FrameHash(got) != display.FrameHash(want) {
		t.Fatal("the preview PNG is not the renderer's frame")
	}
}

func TestPreviewErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"id":"a1","texts":[`), 0o644)
	ko := filepath.Join(dir, "ko.json")
	os.WriteFile(ko, []byte(`{"id":"a-ko","version":1,"priority":60,"issuer":"x","texts":[{"lang":"ko","headline":"전화를 끊으세요"}],"expires":"2030-01-01T00:00:00Z"}`), 0o644)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-in", bad, "-o", "-"}, "not a JSON object"},
		{[]string{"-in", ko, "-o", "-", "-check"}, "no installed font"},
		{[]string{"-builtin", "standing", "-size", "big"}, "WxH"},
		{[]string{}, "give -in"},
	} {
		var out bytes.Buffer
		err := run(c.args, strings.NewReader(""), &out)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: err %v, want %q", c.args, err, c.want)
		}
	}
	var out bytes.Buffer
	if err := run([]string{"-builtin", "standing", "-o", "-", "-size", "640x480"}, nil, &out); err != nil {
		t.Fatal(err)
	}
	if _, err := png.Decode(&out); err != nil {
		t.Fatalf("stdout is not a PNG: %v", err)
	}
}
