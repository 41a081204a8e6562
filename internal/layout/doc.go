// Package layout holds the test that keeps syncwatch's imports flowing
// one way: see layout_test.go for the rules.
package layout
