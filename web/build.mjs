// Builds the UI into dist/: one bundled, minified script and stylesheet whose names carry a
// content hash (the manager serves them as immutable), and index.html pointing at them.
// `node build.mjs --watch` rebuilds on every change.
import { build, context } from "esbuild";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { basename } from "node:path";

const watch = process.argv.includes("--watch");
const options = {
  entryPoints: ["src/main.tsx"],
  bundle: true,
  minify: !watch,
  sourcemap: watch ? "inline" : false,
  format: "esm",
  target: ["chrome110", "firefox110", "safari16"],
  jsx: "automatic",
  jsxImportSource: "preact",
  outdir: "dist/assets",
  entryNames: "[name]-[hash]",
  metafile: true,
  logLevel: "info",
};

/// Writes index.html with the hashed names of this build's outputs.
async function writeIndex(metafile) {
  const outputs = Object.keys(metafile.outputs).map((p) => basename(p));
  const script = outputs.find((f) => f.endsWith(".js"));
  const style = outputs.find((f) => f.endsWith(".css"));
  const template = await readFile("src/index.html", "utf8");
  const html = template
    .replace("%STYLE%", `/assets/${style}`)
    .replace("%SCRIPT%", `/assets/${script}`);
  await writeFile("dist/index.html", html);
}

await rm("dist", { recursive: true, force: true });
await mkdir("dist", { recursive: true });
if (watch) {
  const ctx = await context({
    ...options,
    plugins: [{ name: "index", setup: (b) => b.onEnd((r) => r.metafile && writeIndex(r.metafile)) }],
  });
  await ctx.watch();
} else {
  const result = await build(options);
  await writeIndex(result.metafile);
}
