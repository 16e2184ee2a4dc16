package runner

import (
	"flag"
	"fmt"
	"os"
	"path"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/notebook"
	"github.com/playbook-mlops/playbook/runner/symbols"
)

var updateCellAPI = flag.Bool("update", false, "rewrite testdata/cell-api.txt from the symbol tables")

// cellAPIFile lists every name a cell can reach beyond the standard
// library; it is reviewed like a golden file.
const cellAPIFile = "testdata/cell-api.txt"

// TestCellAPI lists the exported names cells can reach without
// --unrestricted beyond the standard library: every key of the project's
// and gonum's symbol tables (runner/symbols, less deniedSymbols), plus the
// exported methods of the project's types that cells can hold, pb's first
// (a method of a compiled value is called by reflection whatever the
// tables say), found by walking the types of the tables' values, of the
// methods' parameters and results and of exported struct fields. It fails
// when a name is added or removed without updating the list: go test
// ./runner -run TestCellAPI -update, then read the diff.
func TestCellAPI(t *testing.T) {
	got := strings.Join(cellAPI(), "\n") + "\n"
	if *updateCellAPI {
		require.NoError(t, os.WriteFile(cellAPIFile, []byte(got), 0o644))
		return
	}
	want, err := os.ReadFile(cellAPIFile)
	require.NoError(t, err, "go test ./runner -run TestCellAPI -update")
	assert.Equal(t, string(want), got, "the names cells can reach changed: if that is meant, go test ./runner -run TestCellAPI -update and review %s", cellAPIFile)
}

// TestCellAPIHasNoRuntime: nothing of the runtime's side (the controller,
// the constructor, the evidence functions) or of training is reachable.
func TestCellAPIHasNoRuntime(t *testing.T) {
	api := cellAPI()
	for _, name := range api {
		assert.False(t, strings.HasPrefix(name, "notebook.") && !strings.HasPrefix(name, "notebook.Playbook."), "%s: only pb's methods of notebook are reachable", name)
		assert.False(t, strings.HasPrefix(name, "training."), "%s: training is the command line's", name)
	}
	for _, name := range []string{"steps.NewPlaybook", "steps.Controller", "steps.Options", "steps.Train", "steps.Tracker", "steps.HyperparameterGrid"} {
		assert.NotContains(t, api, name)
	}
	assert.Contains(t, api, "notebook.Playbook.WriteFile")
	assert.Contains(t, api, "steps.Identify")
}

// cellAPI returns the sorted list TestCellAPI compares.
func cellAPI() []string {
	loadSymbols()
	w := &apiWalker{seen: map[reflect.Type]bool{}, names: map[string]bool{}}
	w.typ(reflect.TypeOf((*notebook.Playbook)(nil)))
	for key := range symbols.Symbols {
		pkg := shortPkg(path.Dir(key))
		for name, v := range restrictedSymbols[key] {
			if strings.HasPrefix(name, "_") {
				continue // an interface wrapper, yaegi's own
			}
			w.names[pkg+"."+name] = true
			if v.IsValid() && v.Kind() != reflect.Invalid {
				w.typ(v.Type())
			}
		}
	}
	out := make([]string, 0, len(w.names))
	for n := range w.names {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

type apiWalker struct {
	seen  map[reflect.Type]bool
	names map[string]bool
}

func shortPkg(p string) string { return strings.TrimPrefix(p, modulePath+"/") }

func (w *apiWalker) typ(t reflect.Type) {
	if t == nil || w.seen[t] {
		return
	}
	w.seen[t] = true
	if t.Name() != "" && !strings.HasPrefix(t.PkgPath(), modulePath+"/") {
		return // the standard library's and gonum's methods are theirs
	}
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Array, reflect.Chan:
		w.typ(t.Elem())
	case reflect.Map:
		w.typ(t.Key())
		w.typ(t.Elem())
	case reflect.Func:
		for i := range t.NumIn() {
			w.typ(t.In(i))
		}
		for i := range t.NumOut() {
			w.typ(t.Out(i))
		}
	case reflect.Struct:
		for _, f := range reflect.VisibleFields(t) {
			if f.IsExported() {
				w.typ(f.Type)
			}
		}
	}
	if t.Name() == "" {
		return
	}
	mt := t
	if t.Kind() != reflect.Interface {
		mt = reflect.PointerTo(t)
	}
	for i := range mt.NumMethod() {
		m := mt.Method(i)
		w.names[fmt.Sprintf("%s.%s.%s", shortPkg(t.PkgPath()), t.Name(), m.Name)] = true
		w.typ(m.Type)
	}
}
