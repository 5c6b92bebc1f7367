//go:build linux && cgo

package ebitenview

/*
#include <malloc.h>

static int kiosk_set_mmap_threshold(int n) {
#ifdef M_MMAP_THRESHOLD
	return mallopt(M_MMAP_THRESHOLD, n);
#else
	return 0;
#endif
}
*/
import "C"

// mmapLargeAllocations makes glibc serve every malloc of 1 MiB or more
// (Mesa's textures and window buffers: 8-16 MB each at 1920x1080) with its
// own mmap, returned to the OS by free. By default glibc raises that
// threshold to the size of the first such block freed, after which the
// next textures come from the malloc heap and stay resident when freed: a
// kiosk that had cross-faded between screens then held ~30 MB more on a
// static screen (185 vs 153 MB). Setting the threshold explicitly turns the
// adjustment off. It reports whether glibc accepted it.
func mmapLargeAllocations() bool {
	return C.kiosk_set_mmap_threshold(1<<20) == 1
}
