import { Option, type Command } from 'commander';
import { DEFAULTS } from '../config/defaults.js';
import { envLayer, flagLayer, readJobFile, resolveConfig, type ConfigLayer } from '../config/load.js';
import type { JobConfig } from '../config/schema.js';
import { INPUT_ENCODINGS } from '../inputs/encoding.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** The flags shared by `run`, `enqueue` and `estimate`-like commands; they override the job file. */
export function addJobFlags(cmd: Command): Command {
  return cmd
    .argument('[jobfile]', 'job file (.json, .yaml or .yml); flags override its settings')
    .option('-i, --input <path-or-glob>', 'input file, folder or glob (repeatable; replaces the job file inputs)', collect, [])
    .option('-p, --prompt <template>', 'prompt template, e.g. "Label this review: {{text}}"')
    .option('--image-prompt <template>', 'prompt for image-folder items ({{path}}, {{name}})')
    .option('--instructions <text>', 'system instructions sent with every item')
    .option('-m, --model <model>', 'model name (optional when every input is JSONL: batch request lines name their own)')
    .option('-o, --out <file>', 'results file (JSONL)')
    .option('-n, --name <run>', 'run name (default: job file name, else derived from inputs, prompt and model)')
    .option('-c, --concurrency <n>', 'API calls in flight per worker process')
    .option('--attempts <n>', 'API calls per item at most, retries included')
    .addOption(new Option('--detail <detail>', 'image detail').choices(['auto', 'low', 'high']))
    .addOption(new Option('--resize <mode>', 'auto: orient, strip, convert and downscale images to what detail uses; off: send as is').choices(['auto', 'off']))
    .option('--base-url <url>', 'OpenResponses base URL (env OPENRESPONSES_BASE_URL)')
    .option('--id-column <column>', 'CSV column / JSONL field that holds custom_id')
    .addOption(new Option('--encoding <encoding>', `how CSV and JSONL files are decoded (default ${DEFAULTS.encoding}: a line that is not valid UTF-8 is rejected)`).choices([...INPUT_ENCODINGS]))
    .option('--max-item-bytes <n>', `reject an item whose request text is larger (default ${DEFAULTS.max_item_bytes}; images not counted)`)
    .option('--image-root <dir>', 'folder that image paths in CSV/JSONL files may point into, besides the file\'s own folder (repeatable)', collect, [])
    .option('--timeout-ms <ms>', 'timeout of one API call')
    .option('--backoff-ms <ms>', 'first retry delay; doubles per attempt (a Retry-After from the API wins)')
    .option('--temperature <t>', 'sampling temperature')
    .option('--max-output-tokens <n>', 'max_output_tokens (at least 16)')
    .option('--reasoning-effort <effort>', 'reasoning.effort: none, low, medium, high, xhigh')
    .option('--rpm <n>', "the API key's requests per minute, shared by every worker (default: learn it from 429s)")
    .option('--tpm <n>', "the API key's tokens per minute, shared by every worker")
    .option('--max-in-flight <n>', 'calls in flight at once across every worker on this key')
    .option('--expected-output-tokens <n>', 'output tokens to reserve per call when max_output_tokens is not set')
    .option('--samples <n>', 'structured answers: ask N times per item and keep the majority (see docs/labeling.md)')
    .option('--invalid-output-retries <n>', 'structured answers: ask again up to N times after an answer that does not match the schema')
    .addOption(new Option('--output-format <format>', 'results file format').choices(['respool', 'openai-batch']))
    .option('--max-cost <usd>', 'budget cap in USD: items are skipped once spent + in flight would pass it (exit code 4)')
    .option('--prices <file>', 'price file over the bundled prices (docs/cost.md)')
    .option('--no-dedupe', 'call the API for every item, even when its request is identical to another item\'s')
    .option('--circuit-breaker <n>', 'stop the run after this many API calls in a row could not connect or got a 5xx (exit code 6; 0: never; default 20)')
    .option('--mode <mode>', 'online (default), flex, batch or auto: how items are sent (docs/modes.md; env RESPOOL_MODE)')
    .option('--deadline <time>', 'auto: when the run must be done, an ISO 8601 time with offset or a duration such as 6h (env RESPOOL_DEADLINE)')
    .option('--flex-timeout-ms <ms>', 'timeout of one flex call (default 900000)')
    .option('--flex-fallback-ms <ms>', 'flex: send an item at the default tier once flex refused it for this long (default 600000)')
    .option('--batch-max-requests <n>', 'batch: requests per batch input file at most (default 50000)')
    .option('--batch-max-bytes <n>', 'batch: bytes per batch input file at most (default 209715200)')
    .option('--batch-poll-ms <ms>', 'batch: first wait between two looks at a provider batch (default 10000)')
    .option('--allow-failures', 'exit 0, not 5, when the run completes with failed, incomplete or invalid_output lines');
}

export async function configFromFlags(jobfile: string | undefined, flags: Record<string, unknown>, cwd = process.cwd()): Promise<JobConfig> {
  const layers: ConfigLayer[] = [];
  if (jobfile) layers.push(await readJobFile(jobfile, cwd));
  layers.push(envLayer(process.env), flagLayer(flags));
  return resolveConfig(layers);
}
