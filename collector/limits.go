package collector

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/syncwatch/syncwatch/web"
)

// shedLoad admits at most MaxInFlight ingest requests at once. A request
// that finds no room within QueueWait gets 503 with Retry-After: the job
// retries later and nothing of its request was stored.
func (s *Service) shedLoad(c *gin.Context) {
	select {
	case s.inFlight <- struct{}{}:
	default:
		t := time.NewTimer(s.cfg.QueueWait)
		select {
		case s.inFlight <- struct{}{}:
			t.Stop()
		case <-t.C:
			s.metrics.Rejected(ReasonOverloaded)
			c.Header("Retry-After", s.retryAfter())
			web.Fail(c, http.StatusServiceUnavailable, "syncwatch is at its limit of concurrent ingest requests: retry later; nothing of this request was stored")
			return
		case <-c.Request.Context().Done():
			t.Stop()
			c.Abort()
			return
		}
	}
	defer func() { <-s.inFlight }()
	c.Next()
}

// limitBody refuses bodies that declare a length over the limit before
// reading them, and caps the raw body for the rest.
func (s *Service) limitBody(c *gin.Context) {
	if c.Request.ContentLength > s.cfg.MaxBodyBytes {
		s.metrics.Rejected(ReasonTooLarge)
		web.Fail(c, http.StatusRequestEntityTooLarge, tooLarge(s.cfg.MaxBodyBytes).Error())
		return
	}
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, s.cfg.MaxBodyBytes)
	c.Next()
}

// retryAfter renders the configured wait as whole seconds for a
// Retry-After header, rounding up so that it never says 0.
func (s *Service) retryAfter() string {
	secs := int((s.cfg.RetryAfter + time.Second - 1) / time.Second)
	return strconv.Itoa(max(secs, 1))
}
