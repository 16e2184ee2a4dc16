package runner

import (
	"maps"
	"path"
	"reflect"
	"sort"
	"strings"
	"sync"

	"github.com/traefik/yaegi/interp"
	"github.com/traefik/yaegi/stdlib"
	stdsyscall "github.com/traefik/yaegi/stdlib/syscall"
	"github.com/traefik/yaegi/stdlib/unrestricted"
	stdunsafe "github.com/traefik/yaegi/stdlib/unsafe"

	"github.com/playbook-mlops/playbook/runner/symbols"
)

// safeStdlib are the standard library packages a cell may import: pure
// computation, text and encoding. Left out, unless --unrestricted: os,
// os/exec, io/ioutil, path/filepath (the file system: cells write files with
// pb.WriteFile), net and net/* (the network: steps reach MLflow), syscall,
// unsafe, reflect, runtime, plugin and the like, text/template (it calls
// methods by name at run time, past checkCalls), and the generic packages
// (genericPackages).
var safeStdlib = []string{
	"bufio", "bytes", "container/heap", "container/list", "container/ring",
	"context", "crypto/md5", "crypto/sha1", "crypto/sha256", "crypto/sha512",
	"encoding", "encoding/base64", "encoding/csv", "encoding/hex", "encoding/json",
	"errors", "fmt", "hash", "hash/crc32", "hash/fnv", "html", "image/color", "io",
	"log", "math", "math/big", "math/bits", "math/cmplx", "math/rand", "math/rand/v2",
	"path", "regexp", "sort", "strconv", "strings", "sync", "sync/atomic",
	"text/tabwriter", "time", "unicode", "unicode/utf16", "unicode/utf8",
}

// genericPackages are the standard library's generic packages, refused in
// every mode: yaegi cannot call the generic functions of compiled packages,
// and its own interpreted copies of these lack some functions (slices.Sort)
// and fail at positions outside the scenario (maps.Clone). The value says
// what to use instead.
var genericPackages = map[string]string{
	"cmp":    "compare with <, > and ==",
	"maps":   "range over the map (for k, v := range m)",
	"slices": "use sort (sort.Ints, sort.Strings, sort.Slice) and a for loop",
}

// predefined are the packages every cell sees without an import line, by
// name. Cells may still import them, and import others from the allow-list.
var predefined = []string{
	"errors", "fmt", "math", "sort", "strconv", "strings", "time",
	modulePath + "/churn", modulePath + "/mlflow", modulePath + "/record", modulePath + "/steps",
}

const modulePath = "github.com/playbook-mlops/playbook"

// kernelPath is the package through which the runner hands the Playbook to
// the interpreter and traces the line that runs. Cells cannot import it.
const kernelPath = "playbook/kernel"

// kernelName is the name the kernel package is imported under.
const kernelName = "__pb"

var (
	symbolsOnce                        sync.Once
	restrictedSymbols, allSymbols      interp.Exports
	restrictedImports, allImportsNames map[string]string // import path → package name
)

// loadSymbols builds, once, the symbol tables of both modes.
func loadSymbols() {
	symbolsOnce.Do(func() {
		safe := map[string]bool{}
		for _, p := range safeStdlib {
			safe[p] = true
		}
		restrictedSymbols, allSymbols = interp.Exports{}, interp.Exports{}
		restrictedImports, allImportsNames = map[string]string{}, map[string]string{}
		add := func(dst interp.Exports, names map[string]string, key string, v map[string]reflect.Value) {
			dst[key] = v
			if key != "." {
				names[path.Dir(key)] = path.Base(key)
			}
		}
		for key, v := range stdlib.Symbols {
			if key == "github.com/traefik/yaegi/stdlib/stdlib" {
				continue // the map of every symbol: no way around the allow-list
			}
			add(allSymbols, allImportsNames, key, v)
			if key == "." || safe[path.Dir(key)] {
				add(restrictedSymbols, restrictedImports, key, v)
			}
		}
		for _, extra := range []interp.Exports{unrestricted.Symbols, stdsyscall.Symbols, stdunsafe.Symbols} {
			for key, v := range extra {
				if have, ok := allSymbols[key]; ok {
					// yaegi's unrestricted os and os/exec hold only what
					// stdlib leaves out (os.Exit, exec.Command...): added
					// to the package, not in its place.
					merged := maps.Clone(have)
					maps.Copy(merged, v)
					v = merged
				}
				add(allSymbols, allImportsNames, key, v)
			}
		}
		for key, v := range symbols.Symbols {
			add(allSymbols, allImportsNames, key, v)
			if denied := deniedSymbols[key]; len(denied) > 0 {
				v = maps.Clone(v)
				for _, name := range denied {
					delete(v, name)
				}
			}
			add(restrictedSymbols, restrictedImports, key, v)
		}
	})
}

// importable returns the import paths allowed in a mode and their names.
func importable(unrestricted bool) map[string]string {
	loadSymbols()
	if unrestricted {
		return allImportsNames
	}
	return restrictedImports
}

// allowedList lists the importable paths for an error message.
func allowedList(unrestricted bool) string {
	m := importable(unrestricted)
	l := make([]string, 0, len(m))
	for p := range m {
		if _, generic := genericPackages[p]; !generic {
			l = append(l, p)
		}
	}
	sort.Slice(l, func(i, j int) bool {
		// The standard library first, then the project's packages.
		si, sj := strings.Contains(l[i], "."), strings.Contains(l[j], ".")
		if si != sj {
			return sj
		}
		return l[i] < l[j]
	})
	return strings.Join(l, ", ")
}
