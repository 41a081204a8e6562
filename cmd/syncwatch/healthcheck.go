package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/syncwatch/syncwatch/config"
)

// healthcheckOptions are the settings of `syncwatch healthcheck`.
type healthcheckOptions struct {
	listen  string
	url     string
	timeout time.Duration
}

const healthcheckUsage = `usage: syncwatch healthcheck [--url URL] [--timeout D]

Asks a running syncwatch whether it is ready (GET /readyz) and exits 0 when
it answers 2xx, 1 otherwise: the HEALTHCHECK of the container image, which
has no curl. Without --url it asks the port of --listen (SYNCWATCH_LISTEN,
the same setting serve listens on) on the loopback address.

flags:
`

// runHealthcheck is `syncwatch healthcheck`.
func runHealthcheck(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	s := config.New("healthcheck", healthcheckUsage, stderr)
	var o healthcheckOptions
	s.String(&o.listen, "listen", "127.0.0.1:8080", "address syncwatch serve listens on; its port is checked on loopback unless --url is given")
	// The URL and timeout are flags only: SYNCWATCH_URL or SYNCWATCH_TIMEOUT
	// in a container's environment would mean something else.
	s.Flags().StringVar(&o.url, "url", "", "URL to check (default http://127.0.0.1:<port of --listen>/readyz)")
	s.Flags().DurationVar(&o.timeout, "timeout", 3*time.Second, "how long to wait for the answer")
	if err := parseSettings(s, args, getenv); err != nil {
		return err
	}
	if len(s.Args()) > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", s.Args()[0])}
	}
	target := o.url
	if target == "" {
		u, err := readyzURL(o.listen)
		if err != nil {
			return usageError{err}
		}
		target = u
	}
	if o.timeout <= 0 {
		return usageError{errors.New("--timeout must be positive")}
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return usageError{fmt.Errorf("--url: %w", err)}
	}
	req.Header.Set("User-Agent", "syncwatch-healthcheck/"+version)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck %s: %w", target, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("healthcheck %s: %s: %s", target, resp.Status, strings.TrimSpace(string(body)))
	}
	fmt.Fprintf(stdout, "healthy: %s answered %s\n", target, resp.Status)
	return nil
}

// readyzURL returns the readiness URL of a server listening on listen, as
// seen from the same host: an unspecified address (0.0.0.0, ::, or none)
// is asked on 127.0.0.1.
func readyzURL(listen string) (string, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", fmt.Errorf("--listen %q: %w", listen, err)
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/readyz", nil
}
