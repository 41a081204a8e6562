// Package web is syncwatch's HTTP foundation: the gin engine every route is
// served by, with request ids, the access log, panic recovery, the HTTP
// metrics and the JSON error body; the health endpoints (/healthz, /readyz,
// /api/v1/health) over checks that their owners supply; and the OpenAPI
// description at /openapi.yaml.
//
// web knows no route of the product but its own: the ingest service
// (collector), the query API (web/api) and the console (web/ui) add theirs
// to the engine it builds.
package web
