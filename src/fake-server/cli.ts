/** `respool fake-server`: runs the fake OpenResponses server in the foreground until a signal. */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { checkLimitOptions } from './limits.js';
import type { FaultKind, FaultOptions, LimitOptions } from './types.js';

interface FakeServerFlags {
  port: number;
  host: string;
  latencyMs?: number;
  apiKey?: string;
  rate429?: number;
  rate500?: number;
  rateReset?: number;
  rateTruncate?: number;
  rateInvalid?: number;
  flexUnavailable?: number;
  retryAfter?: number;
  retryAfterMs?: number;
  exhausted429?: boolean;
  failFirst?: number;
  failKinds?: FaultKind[];
  seed?: number;
  rpm?: number;
  tpm?: number;
  limitWindowMs?: number;
  maxConcurrent?: number;
  /** False with --no-ratelimit-headers. */
  ratelimitHeaders: boolean;
}

const FAULT_KINDS: readonly FaultKind[] = ['429', '500', '503', 'reset', 'truncate'];

function probability(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError('must be a number between 0 and 1.');
  return n;
}

function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < 0) throw new InvalidArgumentError('must be a non-negative integer.');
  return n;
}

function positiveNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('must be a positive number.');
  return n;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('must be a positive integer.');
  return n;
}

/** The limits the flags ask for, or undefined when none of the limit flags was given. */
function limitsFromFlags(flags: FakeServerFlags): LimitOptions | undefined {
  if (flags.rpm === undefined && flags.tpm === undefined && flags.limitWindowMs === undefined && flags.maxConcurrent === undefined) return undefined;
  return { rpm: flags.rpm, tpm: flags.tpm, windowMs: flags.limitWindowMs, maxConcurrent: flags.maxConcurrent, headers: flags.ratelimitHeaders };
}

/** The option names in a limits error, spelled as the flags that set them. */
const LIMIT_FLAGS: ReadonlyArray<[RegExp, string]> = [
  [/limits\.rpm/g, '--rpm'],
  [/limits\.tpm/g, '--tpm'],
  [/limits\.windowMs/g, '--limit-window-ms'],
  [/limits\.maxConcurrent/g, '--max-concurrent'],
];

function port(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('must be a port number 0-65535.');
  return n;
}

function integer(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n)) throw new InvalidArgumentError('must be an integer.');
  return n;
}

function faultKinds(value: string): FaultKind[] {
  const kinds = value.split(',').map((k) => k.trim());
  const bad = kinds.find((k) => !(FAULT_KINDS as readonly string[]).includes(k));
  if (bad !== undefined || kinds.length === 0) throw new InvalidArgumentError(`must be a comma-separated list of ${FAULT_KINDS.join(', ')}.`);
  return kinds as FaultKind[];
}

export function registerFakeServerCommand(program: Command): void {
  program
    .command('fake-server')
    .description('Run a local fake OpenResponses server (for tests, demos and benchmarks).')
    .option('--port <n>', 'port to listen on (0 = any free port)', port, 8787)
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option('--latency-ms <ms>', 'delay before each answer', nonNegativeInt)
    .addOption(new Option('--api-key <key>', 'require "Authorization: Bearer <key>"').env('RESPOOL_FAKE_API_KEY'))
    .option('--rate-429 <p>', 'probability of a 429 answer per call', probability)
    .option('--rate-500 <p>', 'probability of a 500 answer per call', probability)
    .option('--rate-reset <p>', 'probability of dropping the connection per call', probability)
    .option('--rate-truncate <p>', 'probability of cutting the response body short per call', probability)
    .option('--rate-invalid <p>', 'probability that a json_schema answer breaks the schema', probability)
    .option('--flex-unavailable <p>', 'probability that a flex request is answered 429 "resource unavailable"', probability)
    .option('--retry-after <s>', 'send "Retry-After: <s>" with 429 and 503 answers', nonNegativeInt)
    .option('--retry-after-ms <ms>', 'send "retry-after-ms: <ms>" with 429 and 503 answers', nonNegativeInt)
    .option('--exhausted-429', 'injected 429 answers say no requests are left (x-ratelimit-remaining-requests: 0)')
    .option('--fail-first <n>', 'fail the first N calls of every Idempotency-Key', nonNegativeInt)
    .option('--fail-kinds <list>', `how --fail-first calls fail, cycling (${FAULT_KINDS.join(',')}; default 429,500)`, faultKinds)
    .option('--seed <n>', 'seed of the fault PRNG, for repeatable runs', integer)
    .option('--rpm <n>', 'requests per minute; over it calls get 429', positiveNumber)
    .option('--tpm <n>', 'tokens per minute (usage total_tokens); over it calls get 429', positiveNumber)
    .option('--limit-window-ms <ms>', 'sliding window for --rpm/--tpm; it allows rpm*ms/60000 calls (default 60000)', positiveInt)
    .option('--max-concurrent <n>', 'calls handled at once; over it calls get 429', positiveInt)
    .option('--no-ratelimit-headers', 'do not send x-ratelimit-* headers')
    .action(async (flags: FakeServerFlags, command: Command) => {
      const rateSum = (flags.rate429 ?? 0) + (flags.rate500 ?? 0) + (flags.rateReset ?? 0) + (flags.rateTruncate ?? 0);
      if (rateSum > 1) command.error('error: --rate-429, --rate-500, --rate-reset and --rate-truncate must add up to at most 1.');
      const faults: FaultOptions = {
        rate429: flags.rate429,
        rate500: flags.rate500,
        rateReset: flags.rateReset,
        rateTruncate: flags.rateTruncate,
        rateInvalid: flags.rateInvalid,
        flexUnavailable: flags.flexUnavailable,
        retryAfterS: flags.retryAfter,
        retryAfterMs: flags.retryAfterMs,
        exhausted429: flags.exhausted429,
        failFirst: flags.failFirst,
        failKinds: flags.failKinds,
        seed: flags.seed,
      };
      const limits = limitsFromFlags(flags);
      if (limits) {
        try {
          checkLimitOptions(limits);
        } catch (e) {
          const message = LIMIT_FLAGS.reduce((m, [pattern, flag]) => m.replace(pattern, flag), (e as Error).message);
          command.error(`error: ${message}.`);
        }
      }
      // Loaded here, not at start-up: every other command would pay for ajv and the spec otherwise.
      const { startFakeServer } = await import('./server.js');
      const server = await startFakeServer({
        host: flags.host,
        port: flags.port,
        apiKey: flags.apiKey,
        latencyMs: flags.latencyMs,
        faults,
        limits,
      });
      process.stdout.write(`fake OpenResponses server listening on ${server.url}\n`);
      await new Promise<void>((resolve) => {
        const stop = (): void => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          resolve();
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      await server.close();
    });
}
