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
	c.JSON(http.StatusNotFound, ErrorResponse{Error: "no such route: " + c.Request.Method + " " + c.Request.URL.Path})
}

// noMethod answers requests whose path is served, but not for their method.
func noMethod(c *gin.Context) {
	c.JSON(http.StatusMethodNotAllowed, ErrorResponse{Error: "method " + c.Request.Method + " is not allowed on " + c.Request.URL.Path})
}
