// Prints the minified and minified+gzipped size of signaller.js and exits 1
// if the gzipped figure exceeds the 1.75 KB budget.
// Usage: node t/js/size.mjs [--json]
import { readFile } from "node:fs/promises";
import { gzipSync } from "node:zlib";
import { fileURLToPath } from "node:url";
import { minify } from "terser";

export const BUDGET = 1792;

export async function measure() {
    const file = fileURLToPath(new URL("../../signaller.js", import.meta.url));
    const src = await readFile(file, "utf8");
    const { code } = await minify(src, {
        compress: { passes: 2 },
        mangle: true,
        format: { comments: false },
    });
    const gz = gzipSync(code, { level: 9 }).length;
    return { source: Buffer.byteLength(src), minified: Buffer.byteLength(code), gzipped: gz };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
    const m = await measure();
    if (process.argv.includes("--json")) {
        console.log(JSON.stringify(m));
    } else {
        console.log(`signaller.js: ${m.source} B source, ${m.minified} B minified, `
            + `${m.gzipped} B minified+gzip -9 (budget ${BUDGET} B)`);
    }
    process.exitCode = m.gzipped <= BUDGET ? 0 : 1;
}
