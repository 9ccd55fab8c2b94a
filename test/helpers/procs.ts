import type { ChildProcess } from 'node:child_process';
import { finished, spawnCli, type CliOptions, type CliResult } from './cli.js';

/** A respool process a test starts, kills and waits for; `stopAll` ends the ones still running. */
export class Proc {
  readonly child: ChildProcess;
  readonly done: Promise<CliResult>;
  constructor(
    readonly args: string[],
    opts: CliOptions = {},
  ) {
    this.child = spawnCli(args, opts);
    this.done = finished(this.child, opts.killAfterMs ?? 120_000);
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<CliResult> {
    if (this.running) this.child.kill(signal);
    return this.done;
  }
}

export async function stopAll(procs: Iterable<Proc>): Promise<void> {
  await Promise.all([...procs].map((p) => p.kill('SIGKILL')));
}

/** The `delivered N lines` a worker logs when it stops. */
export function deliveredBy(result: CliResult): number {
  const m = /delivered (\d+) lines/.exec(result.stderr);
  if (!m) throw new Error(`no delivery count in: ${result.stderr}`);
  return Number(m[1]);
}
