// Build the widgets' browser code: one ES module per view (uPlot bundled in, no CDN) and one
// stylesheet, written to braintrace_lab/_widgets_static/ (or the folder given as argument).
//
//   cd widgets && npm ci && npm run build          # or: node build.mjs OUT_DIR
//
// The output is committed, so installing the Python package needs no Node. build.json records the
// SHA-256 of every input (sources, lock file, this script) and output; the Python tests check that
// the shipped files match it and that the recorded inputs are the current sources.
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const HERE = dirname(fileURLToPath(import.meta.url));
const OUT = resolve(process.argv[2] || join(HERE, "..", "braintrace_lab", "_widgets_static"));
const VIEWS = ["graph_view", "live_chart", "trace_monitor"];
const UPLOT = JSON.parse(readFileSync(join(HERE, "node_modules", "uplot", "package.json"), "utf8")).version;

const sha256 = (path) => createHash("sha256").update(readFileSync(path)).digest("hex");

function inputs() {
  const files = ["build.mjs", "lab.css", "package.json", "package-lock.json"]
    .concat(readdirSync(join(HERE, "src")).filter((f) => f.endsWith(".js")).map((f) => "src/" + f));
  return Object.fromEntries(files.sort().map((f) => [f, sha256(join(HERE, f))]));
}

const banner = `/* braintrace-lab widget bundle, built by widgets/build.mjs from widgets/src (do not edit).
   Includes uPlot ${UPLOT} (c) Leon Sorokin, MIT licence: see LICENSE.uplot. */`;

mkdirSync(OUT, { recursive: true });
await esbuild.build({
  entryPoints: VIEWS.map((v) => join(HERE, "src", v + ".js")),
  outdir: OUT, bundle: true, format: "esm", target: "es2020", minify: true, charset: "utf8",
  legalComments: "none", banner: { js: banner }, logLevel: "warning",
});
await esbuild.build({
  entryPoints: [join(HERE, "lab.css")], outfile: join(OUT, "lab.css"), bundle: true, minify: true,
  charset: "utf8", legalComments: "none", banner: { css: banner }, logLevel: "warning",
});
copyFileSync(join(HERE, "node_modules", "uplot", "LICENSE"), join(OUT, "LICENSE.uplot"));

const outputs = ["LICENSE.uplot", "lab.css"].concat(VIEWS.map((v) => v + ".js")).sort();
const info = {
  generator: "widgets/build.mjs", uplot: UPLOT, esbuild: esbuild.version,
  inputs: inputs(), outputs: Object.fromEntries(outputs.map((f) => [f, sha256(join(OUT, f))])),
};
writeFileSync(join(OUT, "build.json"), JSON.stringify(info, null, 2) + "\n");
console.log(`wrote ${outputs.length + 1} files to ${relative(process.cwd(), OUT) || "."}`);
