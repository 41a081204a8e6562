package collector

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/syncwatch/syncwatch/auth"
	"github.com/syncwatch/syncwatch/web"
)

// shedLoad admits at most MaxInFlight ingest requests at once, and at most
// MaxInFlightPerClient of one client (its token, or its address when
// tokens are not configured), so that one client cannot take every slot.
// A request that finds no room within QueueWait, or whose client holds its
// share, gets 503 with Retry-After: the job retries later and nothing of
// its request was stored. An admitted request must deliver its body within
// BodyTimeout.
func (s *Service) shedLoad(c *gin.Context) {
	rc := http.NewResponseController(c.Writer)
	// Whatever happens next, the body cannot hold the connection longer.
	_ = rc.SetReadDeadline(time.Now().Add(s.cfg.BodyTimeout))
	select {
	case s.inFlight <- struct{}{}:
	default:
		t := time.NewTimer(s.cfg.QueueWait)
		select {
		case s.inFlight <- struct{}{}:
			t.Stop()
		case <-t.C:
			s.overloaded(c, rc, "syncwatch is at its limit of concurrent ingest requests: retry later; nothing of this request was stored")
			return
		case <-c.Request.Context().Done():
			t.Stop()
			c.Abort()
			return
		}
	}
	defer func() { <-s.inFlight }()
	// The client's share counts the requests being served, not those
	// waiting for a slot: with a share as large as the limit, a client
	// waits for room as before instead of being refused at once.
	client := clientKey(c)
	if !s.slots.acquire(client) {
		s.overloaded(c, rc, "this client is at its share of the concurrent ingest requests: retry later; nothing of this request was stored")
		return
	}
	defer s.slots.release(client)
	c.Next()
}

// overloaded refuses a request with 503 and Retry-After. Its body is not
// read: the connection closes after the answer instead of waiting for it.
func (s *Service) overloaded(c *gin.Context, rc *http.ResponseController, msg string) {
	s.metrics.Rejected(ReasonOverloaded)
	_ = rc.SetReadDeadline(time.Now())
	c.Header("Connection", "close")
	c.Header("Retry-After", s.retryAfter())
	web.Fail(c, http.StatusServiceUnavailable, msg)
}

// clientKey names the client whose share of the in-flight slots a request
// takes: its token, or its address when tokens are not configured.
func clientKey(c *gin.Context) string {
	if t := auth.TokenOf(c); t != nil {
		return "token:" + t.Name
	}
	return "addr:" + c.ClientIP()
}

// clientSlots counts the in-flight requests of each client against a
// per-client maximum.
type clientSlots struct {
	max  int
	mu   sync.Mutex
	held map[string]int
}

func newClientSlots(max int) *clientSlots {
	return &clientSlots{max: max, held: map[string]int{}}
}

// acquire takes a slot for client, or reports that it holds its share.
func (cs *clientSlots) acquire(client string) bool {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.held[client] >= cs.max {
		return false
	}
	cs.held[client]++
	return true
}

// release gives back a slot of client.
func (cs *clientSlots) release(client string) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.held[client] <= 1 {
		delete(cs.held, client)
		return
	}
	cs.held[client]--
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
