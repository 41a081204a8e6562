// Command syncload is the load generator of syncwatch's ingest benchmarks
// (scripts/bench-ingest.sh, docs/benchmarks.md): it drives a server on
// loopback with single JSON reports, NDJSON batches or Pushgateway pushes,
// closed loop or at a fixed open-loop rate, records per-request latency and
// the event ids of every acknowledged report, and checks afterwards that
// ClickHouse holds each of them exactly once.
//
//	syncload run --url http://127.0.0.1:8080/api/v1/runs --mode single -c 64 -d 20s --acked acked.txt
//	syncload run --url http://127.0.0.1:8080/api/v1/runs --mode ndjson --batch 1000 -c 4 -d 15s --wait-drain
//	syncload run --url http://127.0.0.1:9091 --mode pushgateway -c 64 -d 15s
//	syncload emptyserver --listen 127.0.0.1:0     # gin answering an empty 202
//	syncload verify --data-dir DIR --acked acked.txt
//	syncload report results/*.json                # the summary table
//	syncload freeport
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "syncload:", err)
		}
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return errors.New("usage: syncload run|emptyserver|verify|report|freeport [flags]")
	}
	switch args[0] {
	case "run":
		return runLoad(args[1:])
	case "emptyserver":
		return runEmptyServer(args[1:])
	case "verify":
		return runVerify(args[1:])
	case "report":
		return runReport(args[1:])
	case "freeport":
		return runFreePort()
	}
	return fmt.Errorf("unknown command %q: want run, emptyserver, verify, report or freeport", args[0])
}
