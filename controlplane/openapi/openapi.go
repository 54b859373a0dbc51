// Package openapi holds the OpenAPI 2.0 (Swagger) document of the control
// plane's REST gateway, served at /openapi.json and read by the console's
// type generator.
package openapi

import _ "embed"

// Document is the merged document that protoc-gen-openapiv2 writes from
// proto/plugs/v1 (`make generate`). It lives in a directory of its own
// below this package because `buf generate` (clean: true) deletes each
// plugin's output directory before writing it again: a Go file beside it
// would vanish with every generation.
//
//go:embed swagger/plugs.swagger.json
var Document []byte
