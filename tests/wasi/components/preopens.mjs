// preopens.mjs - node --import preload for jco 1.35.0: the wasm-tools
// component inside jco reads files through its bundled WASI shim, which
// starts without preopens, so `jco embed --wit DIR` cannot see DIR. Give
// every copy of the shim under $JCO_MODULES a preopen of "/" at "/".
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const root = process.env.JCO_MODULES;
const found = [];
function scan(dir, depth) {
    if (depth > 6 || !existsSync(dir))
        return;
    for (const e of readdirSync(dir, { withFileTypes: true })) {
        if (!e.isDirectory())
            continue;
        const sub = join(dir, e.name);
        const fs = join(sub, 'dist/nodejs/filesystem.js');
        if (e.name === 'preview2-shim' && existsSync(fs))
            found.push(fs);
        else
            scan(sub, depth + 1);
    }
}
if (root)
    scan(root, 0);
for (const f of found) {
    const m = await import(pathToFileURL(f));
    if (typeof m._setPreopens === 'function')
        m._setPreopens({ '/': '/' });
}
