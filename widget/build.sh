#!/usr/bin/env bash
# Builds the embeddable widget into the site root the server serves (target/site):
#   widget.js                      the loader (hand-written, copied as is)
#   widget/sigmic_widget.js        wasm-bindgen's glue (an ES module the loader imports)
#   widget/sigmic_widget_bg.wasm   the widget (Leptos CSR), optimised for size
#   widget/widget.css              its stylesheet (tailwind), loaded into the shadow root
# cargo-leptos builds only the hydrate bundle, so the widget has its own steps. Run after
# `cargo leptos build` (which may clear the site root). Prints the sizes, raw and gzip.
set -euo pipefail
source "$(dirname "$0")/../.ci/env"
cd "$REPO_ROOT"

site="target/site"
out="$site/widget"
bin="$REPO_ROOT/node_modules/.bin"
mkdir -p "$out"

ci_log "widget: cargo build (wasm-release)"
cargo build -p sigmic-widget --target wasm32-unknown-unknown --profile wasm-release
wasm="$CARGO_TARGET_DIR/wasm32-unknown-unknown/wasm-release/sigmic_widget.wasm"

ci_log "widget: wasm-bindgen, wasm-opt"
wasm-bindgen --target web --no-typescript --out-dir "$out" --out-name sigmic_widget "$wasm"
# The features rustc's wasm32 target emits by default; wasm-opt refuses what it was not told of.
"$bin/wasm-opt" -Oz --strip-debug --strip-producers \
  --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
  --enable-mutable-globals --enable-reference-types --enable-multivalue \
  "$out/sigmic_widget_bg.wasm" -o "$out/sigmic_widget_bg.wasm"

ci_log "widget: tailwind"
"$bin/tailwindcss" --input style/widget.css --output "$out/widget.css" --minify
# Tailwind registers its utilities' variables with @property, which a shadow root ignores:
# their initial values are given to every element here instead, in tailwind's lowest layer
# (so any utility still sets its own).
node - "$out/widget.css" <<'JS'
const fs = require("fs");
const file = process.argv[2];
let css = fs.readFileSync(file, "utf8");
const decls = [];
for (const m of css.matchAll(/@property\s*(--[\w-]+)\s*\{([^}]*)\}/g)) {
  const initial = /initial-value:\s*([^;]+)/.exec(m[2]);
  decls.push(`${m[1]}:${initial ? initial[1].trim() : "initial"}`);
}
if (decls.length) {
  css += `@layer properties{*,::before,::after,::backdrop{${decls.join(";")}}}`;
}
fs.writeFileSync(file, css);
JS

cp widget/loader/widget.js "$site/widget.js"

# Compressed once here, like the site's files (`cargo leptos build --precompress`): the server
# sends the .br or .gz beside a file to a browser that takes it.
ci_log "widget: precompress (brotli, gzip)"
node - "$site/widget.js" "$out/sigmic_widget.js" "$out/sigmic_widget_bg.wasm" "$out/widget.css" <<'JS'
const fs = require("fs");
const zlib = require("zlib");
for (const file of process.argv.slice(2)) {
  const data = fs.readFileSync(file);
  fs.writeFileSync(`${file}.gz`, zlib.gzipSync(data, { level: 9 }));
  fs.writeFileSync(`${file}.br`, zlib.brotliCompressSync(data, {
    params: {
      [zlib.constants.BROTLI_PARAM_QUALITY]: 11,
      [zlib.constants.BROTLI_PARAM_SIZE_HINT]: data.length,
    },
  }));
}
JS

size() { printf '%s bytes raw, %s bytes gzip' "$(cat "$@" | wc -c)" "$(cat "$@" | gzip -9c | wc -c)"; }
ci_log "widget sizes"
echo "loader widget.js: $(size "$site/widget.js")"
echo "widget wasm:      $(size "$out/sigmic_widget_bg.wasm")"
echo "widget glue js:   $(size "$out/sigmic_widget.js")"
echo "widget css:       $(size "$out/widget.css")"
echo "whole widget, as served (glue + wasm + css, each brotli): $(( $(wc -c <"$out/sigmic_widget.js.br") + $(wc -c <"$out/sigmic_widget_bg.wasm.br") + $(wc -c <"$out/widget.css.br") )) bytes"
echo "whole widget (glue + wasm + css, each gzipped): $(( $(gzip -9c "$out/sigmic_widget.js" | wc -c) + $(gzip -9c "$out/sigmic_widget_bg.wasm" | wc -c) + $(gzip -9c "$out/widget.css" | wc -c) )) bytes gzip, $(( $(wc -c <"$out/sigmic_widget.js") + $(wc -c <"$out/sigmic_widget_bg.wasm") + $(wc -c <"$out/widget.css") )) bytes raw"
