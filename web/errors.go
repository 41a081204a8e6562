package web

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// ErrorResponse is the body of every error answer.
type ErrorResponse struct {
	Error string `json:"error"`
	// Field names the parameter or field at fault, when there is one.
	Field string `json:"field,omitempty"`
}

// Fail aborts the request with code and an error body saying msg.
func Fail(c *gin.Context, code int, msg string) {
	c.AbortWithStatusJSON(code, ErrorResponse{Error: msg})
}

// noRoute answers requests for paths no route serves.
func noRoute(c *gin.Context) {
	c.JSON(http.StatusNotFound, ErrorResponse{Error: "no such route: " + clip(c.Request.Method) + " " + clip(c.Request.URL.Path)})
}

// noMethod answers requests whose path is served, but not for their method.
func noMethod(c *gin.Context) {
	c.JSON(http.StatusMethodNotAllowed, ErrorResponse{Error: "method " + clip(c.Request.Method) + " is not allowed on " + clip(c.Request.URL.Path)})
}

// maxEcho bounds what an error answer repeats of the request.
const maxEcho = 200

// clip shortens s to maxEcho bytes, so that an error answer never echoes
// a huge method or path back.
func clip(s string) string {
	if len(s) <= maxEcho {
		return s
	}
	return s[:maxEcho] + "…"
}
