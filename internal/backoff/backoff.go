// Package backoff computes the wait before a retry, shared by the batcher
// (inserts into ClickHouse) and the client (reports sent to syncwatch).
//
// It is a function rather than github.com/cenkalti/backoff: both callers
// need a stateless "wait before attempt n" that they mix with their own
// signals (a Retry-After header, a stop channel), which that library's
// stateful ExponentialBackOff would only wrap.
package backoff

import (
	"math/rand/v2"
	"time"
)

// Wait returns the wait before retry number attempt (from 1; 0 is taken
// as 1): first doubled for each earlier retry and capped at limit, with
// "equal jitter", half fixed and half random, so that many retrying
// processes spread out yet none retries at once. A limit below first is
// taken as first.
func Wait(attempt int, first, limit time.Duration) time.Duration {
	if first <= 0 {
		return 0
	}
	limit = max(limit, first)
	d := first
	for i := 1; i < attempt && d < limit; i++ {
		d *= 2
	}
	d = min(d, limit)
	half := d / 2
	return half + rand.N(d-half+1)
}
