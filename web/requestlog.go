package web

import (
	"regexp"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/sirupsen/logrus"
)

// Keys of values the engine's middleware puts in a gin context.
const (
	keyLog       = "syncwatch.log"
	keyPrincipal = "syncwatch.principal"
)

var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)

// requestID takes a well-formed X-Request-ID from the client or makes one,
// echoes it, and puts a logger carrying it in the context.
func requestID(log logrus.FieldLogger) gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.GetHeader("X-Request-ID")
		if !requestIDPattern.MatchString(id) {
			id = uuid.NewString()
		}
		c.Header("X-Request-ID", id)
		c.Set(keyLog, log.WithField("request_id", id))
		c.Next()
	}
}

// Log returns the request's logger, which carries its request id.
func Log(c *gin.Context) logrus.FieldLogger {
	if v, ok := c.Get(keyLog); ok {
		return v.(logrus.FieldLogger)
	}
	return logrus.StandardLogger()
}

// SetPrincipal names who the request was authenticated as, for the access
// log; it never carries a secret.
func SetPrincipal(c *gin.Context, name string) { c.Set(keyPrincipal, name) }

// principal returns the name SetPrincipal gave, or "".
func principal(c *gin.Context) string { return c.GetString(keyPrincipal) }

// LevelEnabled reports whether log writes entries at level; a logger that
// cannot say is assumed to.
func LevelEnabled(log logrus.FieldLogger, level logrus.Level) bool {
	switch l := log.(type) {
	case *logrus.Logger:
		return l.IsLevelEnabled(level)
	case *logrus.Entry:
		return l.Logger.IsLevelEnabled(level)
	}
	return true
}
