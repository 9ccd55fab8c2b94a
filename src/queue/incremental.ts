/**
 * The Redis side of incremental runs (docs/nightly.md#incremental-state). Per job (the schedule's
 * name, or the job name for `respool run`), a set of the content keys of items written successfully;
 * per run, a hash from custom_id to content key, so that the collector's written lines can be turned
 * back into keys.
 *
 * A key is recorded only after its line is on disk with status `completed`, so an item that failed,
 * or whose run crashed before it was written, is sent again by the next run.
 */
import type { Redis } from 'ioredis';
import type { ReadOutcome } from '../core/item.js';
import type { OutputLine } from '../core/output-line.js';
import { contentKey, fileSha256, imageKey, imageRefsOf, recordsContent } from './content-key.js';
import { incrementalKey, runKeys } from './keys.js';

export class IncrementalState {
  /** Items skipped because an earlier run already wrote them. */
  skipped = 0;
  private readonly doneKey: string;
  private readonly contentKey: string;
  private recording: Promise<void> = Promise.resolve();
  private recordError: unknown = null;

  constructor(
    private readonly redis: Redis,
    readonly state: string,
    run: string,
    prefix?: string,
  ) {
    this.doneKey = incrementalKey(state, prefix);
    this.contentKey = runKeys(run, prefix).content;
  }

  /**
   * Passes on rejections and new or changed items; drops items whose content was written before.
   * Reads every image file once to hash it (the file is not kept).
   */
  async *filter(outcomes: AsyncIterable<ReadOutcome>): AsyncGenerator<ReadOutcome> {
    for await (const outcome of outcomes) {
      if (outcome.type !== 'item') {
        yield outcome;
        continue;
      }
      const key = await this.keyOf(outcome);
      if (key === null) {
        yield outcome; // unreadable now: the worker reports why, as a rejected line
        continue;
      }
      if ((await this.redis.sismember(this.doneKey, key)) === 1) {
        this.skipped++;
        continue;
      }
      await this.redis.hset(this.contentKey, outcome.item.customId, key);
      yield outcome;
    }
  }

  /** Records the content of completed lines; call with each batch the collector wrote. */
  record(lines: readonly OutputLine[]): Promise<void> {
    const ids = lines.filter((l) => recordsContent(l.status)).map((l) => l.custom_id);
    if (ids.length === 0) return this.recording;
    this.recording = this.recording.then(async () => {
      const keys = (await this.redis.hmget(this.contentKey, ...ids)).filter((k): k is string => typeof k === 'string' && k !== '');
      if (keys.length > 0) await this.redis.sadd(this.doneKey, ...keys);
    }).catch((err: unknown) => {
      // Not recorded means sent again next time: never worse than paying twice.
      this.recordError ??= err;
    });
    return this.recording;
  }

  /** Waits for every `record` so far; throws the first error one of them had. */
  async flush(): Promise<void> {
    await this.recording;
    if (this.recordError) throw this.recordError;
  }

  private async keyOf(outcome: Extract<ReadOutcome, { type: 'item' }>): Promise<string | null> {
    const refs = imageRefsOf(outcome.item.request);
    try {
      const keys = await Promise.all(refs.map(async (ref) => imageKey(ref, ref.kind === 'file' ? await fileSha256(ref.path) : null)));
      return contentKey(outcome.item.request, keys);
    } catch {
      return null;
    }
  }
}

/** Forgets everything an incremental job has written: its next run sends every item again. */
export async function resetIncremental(redis: Redis, state: string, prefix?: string): Promise<number> {
  return redis.del(incrementalKey(state, prefix));
}
