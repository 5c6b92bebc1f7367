package auth

import "testing"

// BenchmarkVerifyPassword is the CPU cost of one login with the default
// argon2id parameters (64 MiB, 3 passes, 2 lanes).
func BenchmarkVerifyPassword(b *testing.B) {
	h, err := HashPassword("correct horse battery staple", DefaultHashParams)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if ok, err := VerifyPassword("correct horse battery staple", h); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}
