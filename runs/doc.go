// Package runs is syncwatch's read model: the vocabulary in which stored
// runs are listed, counted, reported and diagnosed (filters, runs, run
// details, statistics, daily rows, error groups, trends), the small reader
// ports that a store implements to answer them, and the use cases that
// more than one front end shows, such as the overview.
//
// runs imports nothing that stores or serves: the clickhouse package
// implements its ports, and web/api and web/ui present its results.
package runs
