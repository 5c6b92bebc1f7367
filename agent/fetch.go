package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/atmguard/kiosk/internal/wire"
)

// fetchLoop downloads the blobs that stored snapshots reference and the
// cache lacks, one at a time, from central's GET /content/<sha256>. A failed
// blob is retried with backoff (5 s doubling to 10 min); a blob whose bytes
// do not match the signed hash or size is also reported as rejected.
func (a *Agent) fetchLoop(ctx context.Context) {
	type retry struct{ at, backoff time.Duration }
	failed := map[string]*retry{}
	timer := a.clk.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		if a.o.CentralURL != "" {
			if a.fetchReset.Swap(false) {
				failed = map[string]*retry{}
			}
			next := time.Duration(-1)
			missing := a.cache.Missing()
			still := map[string]bool{}
			for _, r := range missing {
				still[r.SHA256] = true
				now := a.clk.Mono()
				if f := failed[r.SHA256]; f != nil && now < f.at {
					if next < 0 || f.at-now < next {
						next = f.at - now
					}
					continue
				}
				err := a.fetchBlob(ctx, r)
				if ctx.Err() != nil {
					return
				}
				if err == nil {
					delete(failed, r.SHA256)
					a.bump(func(s *Stats) { s.Blobs++ })
					signal(a.wake)
					continue
				}
				f := failed[r.SHA256]
				if f == nil {
					f = &retry{}
					failed[r.SHA256] = f
				}
				f.backoff = min(max(2*f.backoff, 5*time.Second), 10*time.Minute)
				f.at = a.clk.Mono() + f.backoff
				if next < 0 || f.backoff < next {
					next = f.backoff
				}
				if errors.Is(err, ErrCacheFull) {
					a.log.Error("blob not stored: cache budget exceeded; its item stays held back", "sha256", r.SHA256, "err", err)
				} else if errors.Is(err, wire.ErrContentHash) || errors.Is(err, wire.ErrContentLimit) {
					a.reject("content/"+r.SHA256, "", 0, err)
				} else {
					a.log.Warn("blob download failed; will retry", "sha256", r.SHA256, "retry_in", f.backoff, "err", err)
				}
			}
			for k := range failed {
				if !still[k] {
					delete(failed, k)
				}
			}
			if next >= 0 {
				timer.Reset(next)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-a.fetchKick:
		case <-timer.C():
		}
	}
}

func (a *Agent) fetchBlob(ctx context.Context, r wire.ContentRef) error {
	url := strings.TrimRight(a.o.CentralURL, "/") + "/content/" + r.SHA256
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("fetch blob: %w", err)
	}
	resp, err := a.o.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("fetch blob: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetch blob: GET %s: HTTP %d", url, resp.StatusCode)
	}
	// never read more than the signed size says (+1 to notice "more")
	limit := min(r.Size, wire.MaxBlobBytes)
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return fmt.Errorf("fetch blob %s: %w", r.SHA256, err)
	}
	if int64(len(data)) > limit {
		return fmt.Errorf("%w: GET %s sent more than the %d bytes the signed snapshot names", wire.ErrContentLimit, url, r.Size)
	}
	return a.cache.PutBlob(r, data)
}
