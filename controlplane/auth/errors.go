package auth

import "errors"

var (
	// ErrNoCredentials means the request carried no bearer token.
	ErrNoCredentials = errors.New("auth: no bearer token")
	// ErrInvalidCredentials means the token is malformed, unknown or does not
	// match. Callers learn nothing more, so tokens cannot be probed.
	ErrInvalidCredentials = errors.New("auth: invalid bearer token")
)
