// Package templates holds the built-in provider templates: one YAML file per
// provider under providers/, embedded in the binary. A file is the protojson
// form of a plugs.v1.Template written as YAML, so a template is data and the
// API message is its only schema.
package templates

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"sync"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"sigs.k8s.io/yaml"

	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

//go:embed providers/*.yaml
var files embed.FS

// Catalog is a read-only set of templates ordered by id.
type Catalog struct {
	byID map[string]*plugsv1.Template
	ids  []string
}

var (
	builtinOnce sync.Once
	builtin     *Catalog
	builtinErr  error
)

// Builtin returns the embedded templates. Every file is parsed and checked on
// first use; a broken file is a build defect and fails loudly.
func Builtin() (*Catalog, error) {
	builtinOnce.Do(func() { builtin, builtinErr = Load(files, "providers") })
	return builtin, builtinErr
}

// MustBuiltin is Builtin for program start-up.
func MustBuiltin() *Catalog {
	c, err := Builtin()
	if err != nil {
		panic(err)
	}
	return c
}

// Load reads every *.yaml file in dir of fsys. A file's name (without .yaml)
// must equal its template id.
func Load(fsys fs.FS, dir string) (*Catalog, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("templates: %w", err)
	}
	c := &Catalog{byID: make(map[string]*plugsv1.Template)}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".yaml") {
			continue
		}
		data, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("templates: %w", err)
		}
		t, err := Parse(data)
		if err != nil {
			return nil, fmt.Errorf("templates: %s: %w", e.Name(), err)
		}
		if want := strings.TrimSuffix(e.Name(), ".yaml"); t.GetId() != want {
			return nil, fmt.Errorf("templates: %s: id %q does not match the file name", e.Name(), t.GetId())
		}
		c.byID[t.GetId()] = t
		c.ids = append(c.ids, t.GetId())
	}
	slices.Sort(c.ids)
	return c, nil
}

// Parse reads one template from YAML.
func Parse(data []byte) (*plugsv1.Template, error) {
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, err
	}
	t := &plugsv1.Template{}
	if err := (protojson.UnmarshalOptions{}).Unmarshal(js, t); err != nil {
		return nil, err
	}
	if t.GetId() == "" {
		return nil, fmt.Errorf("missing id")
	}
	return t, nil
}

// Get returns a copy of the template with id.
func (c *Catalog) Get(id string) (*plugsv1.Template, error) {
	t, ok := c.byID[id]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	return proto.Clone(t).(*plugsv1.Template), nil
}

// IDs lists template ids in order.
func (c *Catalog) IDs() []string { return slices.Clone(c.ids) }

// List returns copies of the templates whose id sorts after `after`, at
// most limit of them, in id order.
func (c *Catalog) List(after string, limit int) []*plugsv1.Template {
	return c.Find(Filter{}, after, limit)
}
