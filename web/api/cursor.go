package api

import (
	"encoding/base64"
	"encoding/json"
	"regexp"
	"strings"
	"time"

	"github.com/syncwatch/syncwatch/runs"
)

// cursorJSON is the content of a cursor: version 1, the started_at of the
// last run of the previous page in Unix milliseconds, and its run id.
type cursorJSON struct {
	V  int    `json:"v"`
	T  int64  `json:"t"`
	ID string `json:"id"`
}

// EncodeCursor renders a page position as an opaque token.
func EncodeCursor(c *runs.Cursor) string {
	b, _ := json.Marshal(cursorJSON{V: 1, T: c.StartedAt.UnixMilli(), ID: c.RunID})
	return base64.RawURLEncoding.EncodeToString(b)
}

// RunIDPattern is what a run id may look like.
var RunIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// decodeCursor reads a cursor that EncodeCursor made.
func decodeCursor(s string) (*runs.Cursor, *ParamError) {
	bad := BadParam("cursor", "cursor is malformed: pass the next_cursor of the previous page unchanged")
	if len(s) > maxCursorLength {
		return nil, bad
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		return nil, bad
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	var cj cursorJSON
	if err := dec.Decode(&cj); err != nil || dec.More() {
		return nil, bad
	}
	if cj.V != 1 {
		return nil, BadParam("cursor", "cursor version %d is not supported: start again without a cursor", cj.V)
	}
	t := time.UnixMilli(cj.T).UTC()
	if t.Before(minParamTime) || !t.Before(maxParamTime) || !RunIDPattern.MatchString(cj.ID) {
		return nil, bad
	}
	return &runs.Cursor{StartedAt: t, RunID: cj.ID}, nil
}
