import { countInputItems } from '../inputs/count.js';
import { ledgerCounts } from '../queue/ledger.js';
import { readLineCounts } from '../queue/line-stats.js';
import { runKeys } from '../queue/keys.js';
import { loadRun } from '../queue/run-meta.js';
import type { Progress } from './progress.js';
import type { Session } from './session.js';

/**
 * Shows the whole run in `progress`: the lines it had before this process (a resumed run), its item
 * count from the ledger (items in flight + written), and, while the inputs are still being read, a
 * count of them made ahead of the reader. The reader itself stays streamed.
 */
export async function followRunProgress(progress: Progress, session: Session, run: string, inputs?: { list: string[]; cwd: string }): Promise<void> {
  const keys = runKeys(run, session.prefix);
  if (inputs) {
    void countInputItems(inputs.list, inputs.cwd, progress.signal).then((n) => {
      if (n !== null) progress.estimateTotal(n);
    });
  }
  const [{ written }, lines] = await Promise.all([ledgerCounts(session.redis, keys), readLineCounts(session.redis, keys)]);
  progress.resumeFrom({ written, failed: lines.failed ?? 0, rejected: lines.rejected ?? 0 });
  progress.followTotal(async () => {
    const [{ items }, meta] = await Promise.all([ledgerCounts(session.redis, keys), loadRun(session.redis, run, session.prefix)]);
    return { items, exact: meta?.enqueueDone ?? false };
  });
}
