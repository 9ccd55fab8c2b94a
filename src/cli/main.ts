import { createRequire } from 'node:module';
import { Command, CommanderError } from 'commander';
import { QUEUE_DEFAULTS } from '../config/defaults.js';
import { ConfigError } from '../config/load.js';
import { registerFakeServerCommand } from '../fake-server/cli.js';
import { registerCancel } from './commands/cancel.js';
import { registerClean } from './commands/clean.js';
import { registerCollect } from './commands/collect.js';
import { registerDashboard } from './commands/dashboard.js';
import { registerDemo } from './commands/demo.js';
import { registerEnqueue } from './commands/enqueue.js';
import { registerExport } from './commands/export.js';
import { registerReport } from './commands/report.js';
import { registerEstimate } from './commands/estimate.js';
import { registerRetry } from './commands/retry.js';
import { registerRun } from './commands/run.js';
import { registerSchedule } from './commands/schedule.js';
import { registerStatus } from './commands/status.js';
import { registerWorker } from './commands/worker.js';
import { EXIT, ExitError } from './exit.js';
import type { GlobalFlags } from './session.js';

/** The package's version: package.json is two folders up from both src/cli and dist/cli. */
export function packageVersion(): string {
  return (createRequire(import.meta.url)('../../package.json') as { version: string }).version;
}

export function buildProgram(): Command {
  const program = new Command('respool')
    .version(packageVersion(), '-V, --version', 'print the version')
    .description('Batch pipeline for OpenResponses APIs: CSV, JSONL and image folders in, one JSONL line per item out.')
    .option('--log-level <level>', 'error, warn, info or debug', 'info')
    .option('--log-json', 'log JSON lines')
    .option('--prefix <prefix>', 'Redis key prefix (separate installations sharing one Redis)', QUEUE_DEFAULTS.prefix)
    .showHelpAfterError()
    .addHelpText(
      'after',
      `
Environment:
  OPENRESPONSES_API_KEY   API key (sent as a Bearer token; never logged or stored in Redis)
                          (OPENAI_API_KEY is not read: export OPENRESPONSES_API_KEY="$OPENAI_API_KEY")
  OPENRESPONSES_BASE_URL  API base URL (default https://llm.onerouter.pro/v1)
  REDIS_URL               Redis to use (default: 127.0.0.1:6379 if it answers, else an embedded redis-server)
                          redis://:password@host:port for a password, rediss://... for TLS
  RESPOOL_REDIS_CA        PEM file of the CA of a rediss:// server (RESPOOL_REDIS_CERT/_KEY: client certificate)

Exit codes: 0 every item has its line; 1 fatal error; 2 bad settings; 3 run stopped (key refused); 4 max_cost reached;
5 complete with failed lines (--allow-failures: 0); 6 run stopped (API unreachable); 7 run state lost in Redis; 130 interrupted.`,
    );
  // Before the commands are added, so that they inherit it: parse errors anywhere exit with 2.
  program.exitOverride();
  const globals = (): GlobalFlags => {
    const o = program.opts<{ logLevel: string; logJson?: boolean; prefix: string }>();
    return { logLevel: o.logLevel, logJson: Boolean(o.logJson), prefix: o.prefix };
  };
  registerRun(program, globals);
  registerEnqueue(program, globals);
  registerWorker(program, globals);
  registerCollect(program, globals);
  registerSchedule(program, globals);
  registerStatus(program, globals);
  registerRetry(program, globals);
  registerCancel(program, globals);
  registerClean(program, globals);
  registerExport(program, globals);
  registerDashboard(program, globals);
  registerDemo(program, globals);
  registerReport(program);
  registerEstimate(program);
  registerFakeServerCommand(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : EXIT.badConfig);
    if (err instanceof ConfigError) {
      process.stderr.write(`respool: ${err.message}\n`);
      process.exit(EXIT.badConfig);
    }
    if (err instanceof ExitError) {
      process.stderr.write(`respool: ${err.message}\n`);
      process.exit(err.code);
    }
    process.stderr.write(`respool: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(EXIT.fatal);
  }
}
