/**
 * Compiles a JSON schema for answers (Ajv, JSON Schema 2020-12, unknown keywords ignored), once per
 * process and schema: the job's settings check that a `schema` compiles, and the workers check every
 * answer against it (src/worker/structured/validate.ts).
 */
import { createRequire } from 'node:module';
import type Ajv2020Class from 'ajv/dist/2020.js';
import type { ValidateFunction } from 'ajv';

// Loaded on first use, not at start: Ajv costs ~90 ms to load and most commands never need it.
// It ships CommonJS, so `require` loads it synchronously.
const require = createRequire(import.meta.url);
type Ajv2020 = InstanceType<typeof Ajv2020Class.default>;
function newAjv(opts: ConstructorParameters<typeof Ajv2020Class.default>[0]): Ajv2020 {
  const { default: Ajv } = require('ajv/dist/2020.js') as typeof Ajv2020Class;
  return new Ajv(opts);
}

let ajv: Ajv2020 | undefined;
const compiled = new Map<string, ValidateFunction>();

/** Throws with Ajv's message when the schema itself is not a usable JSON schema. */
export function compileAnswerSchema(schema: Record<string, unknown>): ValidateFunction {
  const key = JSON.stringify(schema);
  let v = compiled.get(key);
  if (!v) {
    ajv ??= newAjv({ strict: false, allErrors: true, validateFormats: false });
    v = ajv.compile(schema);
    // A run has one schema; the cap only keeps a long-lived worker serving many runs bounded.
    if (compiled.size >= 100) compiled.clear();
    compiled.set(key, v);
  }
  return v;
}
