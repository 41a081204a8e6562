package collector

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/syncwatch/syncwatch/synclog"
	"github.com/syncwatch/syncwatch/web"
)

// QuarantineList is the answer of GET /api/v1/quarantine.
type QuarantineList struct {
	Reports int                 `json:"reports"`
	Items   []QuarantinedReport `json:"items"`
}

// QuarantineReplay is the answer of POST /api/v1/quarantine/replay.
type QuarantineReplay struct {
	// Replayed counts the reports moved back into the spool.
	Replayed int `json:"replayed"`
}

// handleQuarantineList serves GET /api/v1/quarantine.
func (s *Service) handleQuarantineList(c *gin.Context) {
	items, err := s.quarant.List()
	if err != nil {
		web.Log(c).WithError(err).Error("cannot read the quarantine")
		c.JSON(http.StatusInternalServerError, web.ErrorResponse{Error: "cannot read the quarantine: " + err.Error()})
		return
	}
	if items == nil {
		items = []QuarantinedReport{}
	}
	c.JSON(http.StatusOK, QuarantineList{Reports: len(items), Items: items})
}

// handleQuarantineReplay moves the quarantined reports back into the spool,
// for the batcher to insert once more; those ClickHouse still refuses come
// back to the quarantine.
func (s *Service) handleQuarantineReplay(c *gin.Context) {
	n, err := s.quarant.Replay(func(reports []synclog.Report) error {
		return s.spool.Append(c.Request.Context(), reports)
	})
	if err != nil {
		web.Log(c).WithError(err).Error("cannot replay the quarantine")
		c.Header("Retry-After", s.retryAfter())
		c.JSON(http.StatusServiceUnavailable, web.ErrorResponse{Error: "cannot replay the quarantine: " + err.Error()})
		return
	}
	web.Log(c).WithField("reports", n).Info("quarantined reports replayed into the spool")
	c.JSON(http.StatusOK, QuarantineReplay{Replayed: n})
}
