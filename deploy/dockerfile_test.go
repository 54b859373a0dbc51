package deploy

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestDockerfile checks what the image promises without building it (the
// tests run without a container engine): a static binary, a non-root
// numeric user, plugs as the entrypoint.
func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	// Join continuation lines, so one instruction is one line.
	src := strings.ReplaceAll(string(b), "\\\n", " ")
	var stages [][]string
	for _, line := range strings.Split(src, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "FROM ") {
			stages = append(stages, nil)
		}
		if len(stages) > 0 {
			stages[len(stages)-1] = append(stages[len(stages)-1], line)
		}
	}
	if len(stages) < 2 {
		t.Fatalf("want a multi-stage build, found %d stages", len(stages))
	}
	build, final := strings.Join(stages[0], "\n"), stages[len(stages)-1]
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "./cmd/plugs"} {
		if !strings.Contains(build, want) {
			t.Errorf("the build stage does not use %s", want)
		}
	}
	if from := final[0]; !strings.Contains(from, "distroless/static") && !strings.HasSuffix(from, " scratch") {
		t.Errorf("final stage %q: want distroless static or scratch", from)
	}
	var user, entrypoint string
	for _, l := range final {
		if v, ok := strings.CutPrefix(l, "USER "); ok {
			user = v
		}
		if v, ok := strings.CutPrefix(l, "ENTRYPOINT "); ok {
			entrypoint = v
		}
	}
	uid, _, _ := strings.Cut(user, ":")
	if n, err := strconv.Atoi(uid); err != nil || n == 0 {
		t.Errorf("final stage USER %q: want a numeric non-root user, which runAsNonRoot can verify", user)
	}
	if !strings.Contains(entrypoint, `plugs"]`) {
		t.Errorf("ENTRYPOINT %s: want the plugs binary", entrypoint)
	}
}

// TestDockerignoreKeepsTheBuildInputs checks that the build context keeps
// what `go build ./cmd/plugs` reads, the files it embeds included.
func TestDockerignoreKeepsTheBuildInputs(t *testing.T) {
	f, err := os.Open("../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var patterns []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if strings.HasPrefix(l, "!") {
			t.Fatalf(".dockerignore pattern %q: exceptions are beyond this check; extend it", l)
		}
		patterns = append(patterns, strings.TrimPrefix(l, "/"))
	}
	needed := []string{
		"go.mod", "go.sum", "controlplane/openapi/openapi.go", "cmd/plugs/main.go",
		"controlplane/openapi/swagger/plugs.swagger.json", "controlplane/store/migrations", "templates/providers",
	}
	for _, path := range needed {
		for _, p := range patterns {
			// A pattern excludes a path if it matches the path or one of
			// the directories above it.
			for prefix := path; prefix != "." && prefix != "/"; prefix = filepath.Dir(prefix) {
				if ok, _ := filepath.Match(p, prefix); ok {
					t.Errorf(".dockerignore pattern %q leaves %s out of the build", p, path)
				}
			}
		}
	}
}
