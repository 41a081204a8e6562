package client_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/syncwatch/syncwatch/client"
)

// ExampleClient reports one run of a price sync: processing when it
// starts, partial when it ends with some failed records.
func ExampleClient() {
	// A stand-in for syncwatch that prints what it receives.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var rep client.Report
		_ = json.NewDecoder(r.Body).Decode(&rep)
		fmt.Printf("%s %s/%s %d/%d/%d %q\n", rep.Status, rep.Source, rep.SyncType,
			rep.TotalCount, rep.SuccessCount, rep.FailedCount, rep.Message)
		w.WriteHeader(http.StatusAccepted)
		_ = json.NewEncoder(w).Encode(client.Response{Accepted: 1})
	}))
	defer srv.Close()

	c, err := client.New(srv.URL, client.WithToken("ingest-token"))
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	run, err := c.StartRun(ctx, client.Run{SyncType: "prices", Source: "haier"})
	if err != nil {
		// syncwatch is unreachable: do the work anyway.
		log.Print(err)
	}

	// ... the sync itself ...

	err = run.Finish(ctx, client.Result{
		Total: 100, Success: 98, Failed: 2,
		Message: "2 prices rejected: token=abc123 expired",
	})
	if err != nil {
		log.Print(err)
	}
	// Output:
	// processing haier/prices 0/0/0 ""
	// partial haier/prices 100/98/2 "2 prices rejected: token=[REDACTED] expired"
}
