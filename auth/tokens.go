// Package auth is syncwatch's access control: bearer tokens with roles
// (ingest, query, admin, relay), ingest tokens limited to sources, per-token rate
// limits, and the gin middleware that enforces them.
package auth

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
	"gopkg.in/yaml.v3"
)

// Role is what a token may do.
type Role string

// The roles of tokens. Admin implies query and relay.
const (
	RoleIngest Role = "ingest"
	RoleQuery  Role = "query"
	RoleAdmin  Role = "admin"
	// RoleRelay may only post Alertmanager notifications to the relay,
	// the token to give Alertmanager.
	RoleRelay Role = "relay"
)

// Token is one bearer token and what it may do.
type Token struct {
	// Name identifies the token in logs and metrics; never the secret.
	Name string `yaml:"name"`
	// Secret is the token itself; or give SHA256, its hex SHA-256.
	Secret string `yaml:"token"`
	SHA256 string `yaml:"token_sha256"`
	Roles  []Role `yaml:"roles"`
	// Sources limits an ingest token to these sources; empty allows all.
	Sources []string `yaml:"sources"`
	// RateLimit is requests per second (0: the server's default).
	RateLimit float64 `yaml:"rate_limit"`
}

// Has reports whether the token has role r (admin includes query and
// relay).
func (t *Token) Has(r Role) bool {
	return slices.Contains(t.Roles, r) || ((r == RoleQuery || r == RoleRelay) && slices.Contains(t.Roles, RoleAdmin))
}

// AllowsSource reports whether an ingest token may report for source.
func (t *Token) AllowsSource(source string) bool {
	return len(t.Sources) == 0 || slices.Contains(t.Sources, source)
}

// Auth checks bearer tokens and rate-limits them.
type Auth struct {
	byHash map[[32]byte]*Token
	// byName maps a token's name to the SHA-256 of its secret.
	byName  map[string][32]byte
	limit   float64
	mu      sync.Mutex
	limiter map[string]*rate.Limiter
}

// LoadTokens reads tokens from a YAML file: a list of {name, token or
// token_sha256, roles, sources, rate_limit}.
func LoadTokens(path string) ([]Token, error) {
	body, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read tokens file: %w", err)
	}
	var toks []Token
	dec := yaml.NewDecoder(strings.NewReader(string(body)))
	dec.KnownFields(true)
	if err := dec.Decode(&toks); err != nil {
		return nil, fmt.Errorf("parse tokens file %s: %w", path, err)
	}
	return toks, nil
}

// TokensFromEnv builds tokens from comma-separated lists of secrets for
// each role, as SYNCWATCH_INGEST_TOKENS, SYNCWATCH_QUERY_TOKENS and
// SYNCWATCH_ADMIN_TOKENS give them.
func TokensFromEnv(ingest, query, admin string) []Token {
	var toks []Token
	for _, g := range []struct {
		role Role
		list string
	}{{RoleIngest, ingest}, {RoleQuery, query}, {RoleAdmin, admin}} {
		for i, s := range strings.Split(g.list, ",") {
			if s = strings.TrimSpace(s); s != "" {
				toks = append(toks, Token{Name: fmt.Sprintf("env-%s-%d", g.role, i+1), Secret: s, Roles: []Role{g.role}})
			}
		}
	}
	return toks
}

// NewAuth checks the tokens and builds the authenticator. defaultRate is
// the requests per second a token may make unless it sets its own; zero
// disables rate limiting.
func NewAuth(tokens []Token, defaultRate float64) (*Auth, error) {
	a := &Auth{byHash: map[[32]byte]*Token{}, byName: map[string][32]byte{}, limit: defaultRate, limiter: map[string]*rate.Limiter{}}
	names := map[string]bool{}
	for i := range tokens {
		t := tokens[i]
		if t.Name == "" {
			return nil, fmt.Errorf("token %d: name is required", i+1)
		}
		if names[t.Name] {
			return nil, fmt.Errorf("token %q: name used twice", t.Name)
		}
		names[t.Name] = true
		var h [32]byte
		switch {
		case t.Secret != "" && t.SHA256 != "":
			return nil, fmt.Errorf("token %q: give token or token_sha256, not both", t.Name)
		case t.Secret != "":
			if len(t.Secret) < 16 {
				return nil, fmt.Errorf("token %q: must be at least 16 characters", t.Name)
			}
			h = sha256.Sum256([]byte(t.Secret))
		case t.SHA256 != "":
			b, err := hex.DecodeString(t.SHA256)
			if err != nil || len(b) != 32 {
				return nil, fmt.Errorf("token %q: token_sha256 must be 64 hex digits", t.Name)
			}
			copy(h[:], b)
		default:
			return nil, fmt.Errorf("token %q: token or token_sha256 is required", t.Name)
		}
		if len(t.Roles) == 0 {
			return nil, fmt.Errorf("token %q: at least one role (ingest, query, admin, relay) is required", t.Name)
		}
		for _, r := range t.Roles {
			if r != RoleIngest && r != RoleQuery && r != RoleAdmin && r != RoleRelay {
				return nil, fmt.Errorf("token %q: unknown role %q: allowed are ingest, query, admin, relay", t.Name, r)
			}
		}
		if _, dup := a.byHash[h]; dup {
			return nil, fmt.Errorf("token %q: same secret as another token", t.Name)
		}
		t.Secret = ""
		a.byHash[h] = &t
		a.byName[t.Name] = h
	}
	return a, nil
}

// Named returns the token called name and the SHA-256 of its secret, or
// false. The console's signed sessions name their token and carry a MAC
// of that hash, so that a session outlives neither its token nor a change
// of the token's secret, on whichever replica it is presented.
func (a *Auth) Named(name string) (*Token, [32]byte, bool) {
	if a == nil {
		return nil, [32]byte{}, false
	}
	h, ok := a.byName[name]
	if !ok {
		return nil, [32]byte{}, false
	}
	return a.byHash[h], h, true
}

// Enabled reports whether any token is configured; without tokens the API
// is open and the server must listen on loopback only.
func (a *Auth) Enabled() bool { return a != nil && len(a.byHash) > 0 }

// Authenticate returns the token whose secret is presented in an
// Authorization header ("Bearer <secret>"), or nil.
func (a *Auth) Authenticate(header string) *Token {
	scheme, secret, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || secret == "" {
		return nil
	}
	// Tokens are looked up by their SHA-256, so the lookup's timing says
	// nothing about the secret.
	h := sha256.Sum256([]byte(strings.TrimSpace(secret)))
	t, ok := a.byHash[h]
	if !ok {
		return nil
	}
	return t
}

// Allow takes one request from the token's rate budget. When refused it
// returns how long until a request would be allowed.
func (a *Auth) Allow(t *Token) (bool, time.Duration) {
	limit := a.limit
	if t.RateLimit > 0 {
		limit = t.RateLimit
	}
	if limit <= 0 {
		return true, 0
	}
	a.mu.Lock()
	l, ok := a.limiter[t.Name]
	if !ok {
		burst := int(limit * 2)
		if burst < 1 {
			burst = 1
		}
		l = rate.NewLimiter(rate.Limit(limit), burst)
		a.limiter[t.Name] = l
	}
	a.mu.Unlock()
	r := l.Reserve()
	if d := r.Delay(); d > 0 {
		r.Cancel()
		return false, d
	}
	return true, 0
}
