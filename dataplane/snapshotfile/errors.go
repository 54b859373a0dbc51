package snapshotfile

import "errors"

var (
	// ErrNoSnapshot means there is no snapshot file yet: the first start, or
	// persistence newly turned on. The data plane waits for the control plane.
	ErrNoSnapshot = errors.New("snapshotfile: no snapshot file")
	// ErrCorrupt means the file is not a snapshot this binary can read: not
	// in the format, truncated, tampered with, or sealed under another key.
	// GCM cannot tell these apart, and the error never says more.
	ErrCorrupt = errors.New("snapshotfile: snapshot file is corrupt or sealed under another key")
	// ErrInsecureFile means the snapshot file can be read by its group or by
	// others. It holds signing secrets in the clear once decrypted, and its
	// key usually sits next to it, so such a file is refused rather than
	// trusted.
	ErrInsecureFile = errors.New("snapshotfile: snapshot file is readable by others")
	// ErrBadKey means the snapshot key is not base64 of 32 bytes.
	ErrBadKey = errors.New("snapshotfile: snapshot key must be standard base64 of 32 bytes (e.g. openssl rand -base64 32)")
)
