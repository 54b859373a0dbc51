//go:build !(linux || darwin || freebsd || openbsd || netbsd || dragonfly)

package datadir

import "os"

// Elsewhere the directory is not locked: a second process is not refused,
// and plugs keys rotate cannot tell that a server holds it.
func lock(*os.File) error { return nil }

func unlock(*os.File) error { return nil }
