package display

import "testing"

// BenchmarkRenderAlert1080p renders the spoofed-police-number alert at
// 1920x1080 (go test -run NONE -bench RenderAlert -benchmem ./display).
func BenchmarkRenderAlert1080p(b *testing.B) {
	s := Screen{Kind: KindAlert, Lang: "ja", Alert: testAlert(b)}
	if _, err := Render(s, 1920, 1080); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Render(s, 1920, 1080); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckFitAlert is central's publish-time check of the same alert
// in both languages at the four standard sizes.
func BenchmarkCheckFitAlert(b *testing.B) {
	s := Screen{Kind: KindAlert, Alert: testAlert(b)}
	b.ReportAllocs()
	for b.Loop() {
		if err := CheckFit(s, nil); err != nil {
			b.Fatal(err)
		}
	}
}
