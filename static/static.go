// Package static holds the files the gateway serves at "/": the demo page
// and, once it is built, the browser library bundle. They are embedded in
// the binary from the site/ folder, so simplegw runs from a single file.
package static

import (
	"embed"
	"io/fs"
)

// site is the embedded site/ folder. A build step may add the bundled demo
// and library there before `go build`; index.html is always present so the
// package builds from a fresh clone.
//
//go:embed site
var site embed.FS

// Site returns the embedded files rooted at site/ (so "index.html" is the
// page served at "/").
func Site() fs.FS {
	sub, err := fs.Sub(site, "site")
	if err != nil {
		// fs.Sub fails only on an invalid path; "site" is valid.
		panic(err)
	}
	return sub
}
