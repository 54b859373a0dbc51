// Records what console/dist was built from, in dist/build.json: the SHA-256
// of every source the build reads (this directory's sources, lockfile and
// configuration, and the OpenAPI document the API types are generated
// from) and of every file it wrote. A Go test (console/bundle_test.go)
// recomputes both without Node: a source changed without `make ui`, or a
// bundle file edited by hand, fails `make test`.
//
// The file list and hashing must match console/bundle.go's sourceFiles.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, relative, sep } from "node:path";

const root = new URL("..", import.meta.url).pathname; // console/
const repo = join(root, "..");

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else out.push(p);
  }
  return out;
}

const slash = (p) => p.split(sep).join("/");

// Paths relative to the repository root, sorted.
const sources = [
  "console/package.json",
  "console/package-lock.json",
  "console/tsconfig.json",
  "console/vite.config.ts",
  "console/index.html",
  ...walk(join(root, "scripts")).map((p) => slash(relative(repo, p))),
  ...walk(join(root, "src")).map((p) => slash(relative(repo, p))),
  ...walk(join(root, "public")).map((p) => slash(relative(repo, p))),
  "controlplane/openapi/swagger/plugs.swagger.json",
].sort();

const sha = (b) => createHash("sha256").update(b).digest("hex");
const h = createHash("sha256");
for (const p of sources) {
  h.update(p + "\0" + sha(readFileSync(join(repo, p))) + "\n");
}

const dist = join(root, "dist");
const files = {};
for (const p of walk(dist)) {
  const rel = slash(relative(dist, p));
  if (rel === "build.json") continue;
  files[rel] = sha(readFileSync(p));
}

writeFileSync(join(dist, "build.json"), JSON.stringify({ sources: h.digest("hex"), files }, null, 2) + "\n");
console.log(`dist/build.json: ${Object.keys(files).length} files, sources ${sources.length}`);
