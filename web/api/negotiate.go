package api

import (
	"net/url"
	"slices"
	"strings"

	"github.com/munnerz/goautoneg"
)

// Output formats.
const (
	FormatJSON     = "json"
	FormatCSV      = "csv"
	FormatMarkdown = "markdown"
)

var formatTypes = map[string]string{
	FormatJSON:     "application/json",
	FormatCSV:      "text/csv",
	FormatMarkdown: "text/markdown",
}

// parseFormat reads the format parameter, or else picks the format the
// Accept header prefers among offered (the first is the default).
func parseFormat(v url.Values, accept string, offered ...string) (string, *ParamError) {
	f, perr := Single(v, "format")
	if perr != nil {
		return "", perr
	}
	if f != "" {
		name := strings.ToLower(strings.TrimSpace(f))
		if name == "md" && slices.Contains(offered, FormatMarkdown) {
			name = FormatMarkdown
		}
		if !slices.Contains(offered, name) {
			return "", BadParam("format", "unknown format %q: allowed are %s", Clip(f), strings.Join(offered, ", "))
		}
		return name, nil
	}
	return negotiate(accept, offered), nil
}

// negotiate picks the offered format whose media type the Accept header
// ranks highest, the more specific range deciding between equal weights;
// the first offered format when none matches.
func negotiate(accept string, offered []string) string {
	types := make([]string, len(offered))
	for i, f := range offered {
		types[i] = formatTypes[f]
	}
	if mt := goautoneg.Negotiate(accept, types); mt != "" {
		return offered[slices.Index(types, mt)]
	}
	return offered[0]
}
