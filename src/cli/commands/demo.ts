import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { RunStore } from '../../queue/run-store.js';
import { exportJoined } from '../../sinks/export/join.js';
import { formatTotals } from '../../report/line-totals.js';
import { configFromFlags } from '../job-flags.js';
import { Session, type GlobalFlags } from '../session.js';
import { runPipeline } from '../../pipeline/run.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const DEMO_JOBS = ['jobs/label-reviews.yaml', 'jobs/label-reviews-structured.yaml', 'jobs/caption-images.yaml'];
/** The labeling job's results, joined back onto the reviews as `respool export` does. */
const DEMO_EXPORT = { run: 'label-reviews-structured', join: 'fixtures/reviews.csv', out: 'out/reviews-labeled.csv' };

export function registerDemo(program: Command, globals: () => GlobalFlags): void {
  program
    .command('demo')
    .description('label fixtures/reviews.csv and caption fixtures/images against a local fake API server (no key needed)')
    .action(async () => {
      const { startFakeServer } = await import('../../fake-server/index.js');
      const fake = await startFakeServer({ latencyMs: 50 });
      const session = await Session.open(globals());
      try {
        session.log.info(`fake OpenResponses server on ${fake.url}; Redis: ${session.target.origin}`);
        for (const job of DEMO_JOBS) {
          const config = await configFromFlags(path.join(ROOT, job), { baseUrl: fake.url }, process.cwd());
          // The demo starts from scratch every time; a real run resumes instead.
          await new RunStore(session.redis, config.name, session.prefix).clean(session.queue(config.name));
          await rm(config.out, { force: true });
          const result = await runPipeline(session.context, config);
          const first = (await readFile(result.out, 'utf8')).split('\n')[0] ?? '';
          process.stdout.write(
            `\n${config.name}: ${result.outcome}\n  ${formatTotals(result.totals)}\n  results: ${path.relative(process.cwd(), result.out)}\n  first line: ${first.slice(0, 400)}\n`,
          );
          if (config.name === DEMO_EXPORT.run) {
            const out = path.resolve(path.dirname(result.out), path.basename(DEMO_EXPORT.out));
            const stats = await exportJoined({ results: result.out, join: path.join(ROOT, DEMO_EXPORT.join), out, format: 'csv', cwd: process.cwd() });
            const header = (await readFile(out, 'utf8')).split('\r\n')[0] ?? '';
            process.stdout.write(`  exported: ${path.relative(process.cwd(), out)} (${stats.rows} rows; columns ${header})\n`);
          }
        }
        process.stdout.write(`\nTry: npx respool status   |   npx respool report out/*.jsonl   |   npx respool run --help\n`);
      } finally {
        await session.close();
        await fake.close();
      }
    });
}
