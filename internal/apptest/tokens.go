package apptest

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"

	"github.com/syncwatch/syncwatch/auth"
)

// Secrets of the tokens Tokens returns.
const (
	SecretIngestHaier = "ingest-haier-secret-0001"
	SecretIngestAll   = "ingest-all-secret-000002"
	SecretQuery       = "query-secret-00000000003"
	SecretAdmin       = "admin-secret-00000000004"
	SecretLimited     = "limited-secret-000000005"
	SecretHashed      = "hashed-secret-0000000006"
)

// Tokens are tokens of every kind: ingest limited to sources, ingest,
// query, admin, rate-limited, and given by their hash.
func Tokens() []auth.Token {
	sum := sha256.Sum256([]byte(SecretHashed))
	return []auth.Token{
		{Name: "haier-job", Secret: SecretIngestHaier, Roles: []auth.Role{auth.RoleIngest}, Sources: []string{"haier", "midea"}},
		{Name: "all-jobs", Secret: SecretIngestAll, Roles: []auth.Role{auth.RoleIngest}},
		{Name: "grafana", Secret: SecretQuery, Roles: []auth.Role{auth.RoleQuery}},
		{Name: "ops", Secret: SecretAdmin, Roles: []auth.Role{auth.RoleAdmin}},
		{Name: "slow-job", Secret: SecretLimited, Roles: []auth.Role{auth.RoleIngest}, RateLimit: 1},
		{Name: "hashed-job", SHA256: hex.EncodeToString(sum[:]), Roles: []auth.Role{auth.RoleIngest, auth.RoleQuery}},
	}
}

// Bearer is the header of a JSON request with a bearer token.
func Bearer(secret string) http.Header {
	return http.Header{"Authorization": {"Bearer " + secret}, "Content-Type": {"application/json"}}
}
