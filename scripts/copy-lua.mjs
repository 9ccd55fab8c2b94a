// tsc compiles src/ to dist/ but copies nothing else: the Lua scripts (src/queue/commands/**/*.lua)
// are loaded at run time from beside the module that loads them, so the build copies them over.
import { cpSync, readdirSync } from 'node:fs';
import path from 'node:path';

const from = 'src';
const to = 'dist';
let copied = 0;
for (const entry of readdirSync(from, { recursive: true, withFileTypes: true })) {
  if (!entry.isFile() || !entry.name.endsWith('.lua')) continue;
  const rel = path.relative(from, path.join(entry.parentPath, entry.name));
  cpSync(path.join(from, rel), path.join(to, rel));
  copied++;
}
if (copied === 0) throw new Error('no .lua files found under src/: the build would ship none');
