// Command gen writes syncwatch's Grafana dashboards as JSON. It is run by
// go generate in the grafana directory:
//
//	go run ./gen -rules ../alerts/rules/recording.yml -out dashboards
//
// The thresholds the panels draw are read from the alerting rules, so the
// dashboards and the alerts cannot drift apart.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/syncwatch/syncwatch/grafana"
)

func main() {
	rules := flag.String("rules", "../alerts/rules/recording.yml", "Prometheus rule file with the syncwatch:threshold:* recording rules")
	out := flag.String("out", "dashboards", "directory to write the dashboards' JSON into")
	flag.Parse()
	if err := grafana.Generate(*rules, *out); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}
