package web

import (
	_ "embed"
	"net/http"

	"github.com/gin-gonic/gin"
)

// OpenAPI is the OpenAPI 3.0 description of every route of the service,
// served at /openapi.yaml.
//
//go:embed openapi.yaml
var OpenAPI []byte

// handleOpenAPI serves GET /openapi.yaml.
func handleOpenAPI(c *gin.Context) {
	c.Header("Cache-Control", "public, max-age=300")
	c.Data(http.StatusOK, "application/yaml; charset=utf-8", OpenAPI)
}
