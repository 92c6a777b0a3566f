// signaller.d.ts type-checks against typical uses (t/js/types/*.ts), and
// the size budget: minified + gzip -9 at most 1.75 KB.

import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { measure, BUDGET } from "./size.mjs";

const require = createRequire(import.meta.url);
const dir = fileURLToPath(new URL("./types/", import.meta.url));

test("signaller.d.ts type-checks (tsc --strict)", async () => {
    const tsc = require.resolve("typescript/bin/tsc");
    for (const [file, module] of [["cjs.ts", "commonjs"], ["global.ts", "none"], ["esm.mts", "node16"]]) {
        const args = [tsc, "--noEmit", "--strict", "--target", "es2022", "--lib", "es2022,dom",
                      "--module", module, dir + file];
        const r = await promisify(execFile)(process.execPath, args).catch((e) => e);
        assert.equal(r.code ?? 0, 0, `${file}:\n${r.stdout}${r.stderr}`);
    }
});

test(`minified + gzipped size is within ${BUDGET} bytes`, async (t) => {
    const m = await measure();
    t.diagnostic(`signaller.js: ${m.minified} B minified, ${m.gzipped} B minified+gzip -9`);
    assert.ok(m.gzipped <= BUDGET, `${m.gzipped} > ${BUDGET}`);
});
