//go:build !(linux && cgo)

package ebitenview

// mmapLargeAllocations: only glibc needs it (see malloc_linux.go).
func mmapLargeAllocations() bool { return false }
