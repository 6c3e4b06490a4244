package providers

import (
	"os/exec"
	"strings"
	"testing"
)

// module is this repository's module path.
const module = "github.com/llmproxy/proxy/"

// protocolLayer is the code both the front (proxy) and the upstream side
// (providers) stand on: the wire protocols, their conversions and the JSON
// tools they use. It must not reach up into either.
var protocolLayer = []string{
	"providers/wire", "providers/convert", "providers/jsonscan", "providers/jsonpatch",
	"providers/usage", "providers/catalog",
}

// TestImportEdgesRunDownward keeps the package graph layered: the protocol
// layer imports only itself; providers and stream never import the proxy
// front; stream knows the protocols only through wire.
func TestImportEdgesRunDownward(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go command not found")
	}
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}:{{join .Imports " "}}`,
		module+"providers/...", module+"stream/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	inLayer := map[string]bool{}
	for _, p := range protocolLayer {
		inLayer[p] = true
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, imports, _ := strings.Cut(line, ":")
		pkg = strings.TrimPrefix(pkg, module)
		for _, imp := range strings.Fields(imports) {
			if !strings.HasPrefix(imp, module) {
				continue
			}
			imp = strings.TrimPrefix(imp, module)
			switch {
			case inLayer[pkg] && !inLayer[imp]:
				t.Errorf("%s (protocol layer) imports %s, which is above it", pkg, imp)
			case strings.HasPrefix(imp, "proxy"):
				t.Errorf("%s imports %s: only cmd/ may depend on the proxy front", pkg, imp)
			case strings.HasPrefix(pkg, "stream") && imp != "providers/wire":
				t.Errorf("stream imports %s: it knows protocols only through providers/wire", imp)
			}
		}
	}
}
