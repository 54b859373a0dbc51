// Package plugs holds what belongs to the module as a whole rather than to
// one plane: the OpenAPI document of the REST API.
package plugs

import _ "embed"

// OpenAPI is the OpenAPI 2.0 (Swagger) document of the control plane's REST
// gateway, generated from proto/plugs/v1 by protoc-gen-openapiv2 (`make
// generate`). It is embedded from the module root because `buf generate`
// (clean: true in buf.gen.yaml) deletes gen/ before writing it again: a
// file embedding it from inside gen/ would vanish with every generation.
//
//go:embed gen/openapiv2/plugs.swagger.json
var OpenAPI []byte
