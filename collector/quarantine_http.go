package collector

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/syncwatch/syncwatch/synclog"
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

func (s *Server) handleQuarantineList(c *gin.Context) {
	items, err := s.quarant.List()
	if err != nil {
		logEntry(c).WithError(err).Error("cannot read the quarantine")
		c.JSON(http.StatusInternalServerError, ErrorResponse{Error: "cannot read the quarantine: " + err.Error()})
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
func (s *Server) handleQuarantineReplay(c *gin.Context) {
	n, err := s.quarant.Replay(func(reports []synclog.Report) error {
		return s.spool.Append(c.Request.Context(), reports)
	})
	if err != nil {
		logEntry(c).WithError(err).Error("cannot replay the quarantine")
		c.Header("Retry-After", s.retryAfter())
		c.JSON(http.StatusServiceUnavailable, ErrorResponse{Error: "cannot replay the quarantine: " + err.Error()})
		return
	}
	logEntry(c).WithField("reports", n).Info("quarantined reports replayed into the spool")
	c.JSON(http.StatusOK, QuarantineReplay{Replayed: n})
}
