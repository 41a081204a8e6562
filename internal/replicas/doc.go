// Package replicas holds the simulation of syncwatch's collector replicas:
// several ingest services in one test process, each with its own spool,
// dedup window, run anchors and loopback HTTP server, writing to one
// shared embedded ClickHouse, behind a router that sends every report to
// a replica chosen at random. Its test checks the promise of the
// scale-out design (ARCHITECTURE.md, "Replicas"): correctness never
// depends on which replica a report reaches. The package has no code of
// its own.
package replicas
