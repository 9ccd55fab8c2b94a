/**
 * One API call of an item within the run's limits: a call slot, the key's shared budget, the item's
 * call claim in the ledger, the request, and settling the budget with what the call really cost.
 * A flex call refused for lack of capacity waits and asks again, then goes at the default tier (./flex.ts).
 * A 429 pauses every worker of this key when the key is out of budget, else only this call waits (out
 * of its call slot, so other items go on); then the call is made again without using an attempt.
 * See docs/rate-limits.md#what-happens-on-a-429.
 */
import type { CallClaim } from '../queue/ledger.js';
import { CallNotMadeError } from './call-claim.js';
import type { CreateResponseResult, OpenResponsesClient } from './client.js';
import { ApiCallError, CapacityUnavailableError, RateLimitedError } from './errors.js';
import { flexNextStep, flexTimeIsUp, type FlexFallback } from './flex.js';
import type { Budget } from './limits/budget.js';
import type { RateLimiter } from './limits/rate-limiter.js';
import { asksForFlex, atDefaultTier } from './prepare-call.js';

/** What the worker set lends every call: slots, the limiter, the ledger's claim, the circuit's reset. */
export interface CallPath {
  /** Runs one call (budget, request, settle) in one of the run's `concurrency` call slots. */
  inCallSlot<T>(run: string, call: () => Promise<T>): Promise<T>;
  /**
   * Waits `ms` out of the call slots after a sporadic 429 (only this call waits). The run's worker
   * may take one more job meanwhile, so that the waiting job does not keep a call slot idle.
   */
  waitAfter429(run: string, ms: number, signal?: AbortSignal): Promise<void>;
  /**
   * The ledger's call claim, taken right before each API call: `go` or why not (the item's line is
   * delivered or written, another job's claim is live, the run's state is gone).
   */
  claimCall(run: string, jobId: string, owner: string): Promise<CallClaim>;
  limiter: RateLimiter;
  /** A call got an answer (2xx, 429): the run's count of API failures in a row starts again (./circuit.ts). */
  apiAnswered?(run: string): void;
}

/** The item's side of its calls: which item, whose claim, which budget, what to send. */
export interface CallSpec {
  run: string;
  jobId: string;
  /** The call claim's owner: this attempt of the job. */
  owner: string;
  client: OpenResponsesClient;
  budget: Budget;
  /** Tokens reserved from the budget before each call (./limits/estimate.ts). */
  estimatedTokens: number;
  body: Record<string, unknown>;
  signal?: AbortSignal;
  /** For a body that asks for the flex tier: when its "resource unavailable" answers give way (./flex.ts). */
  flex?: FlexFallback;
  /** The clock for flex's fallback (tests). */
  now?: () => number;
}

/** 429s answered for one attempt before it counts as a failed attempt after all. */
export const MAX_RATE_LIMITED_PER_ATTEMPT = 100;

/**
 * The calls of one attempt of one item (several with samples and re-asks). Counts the 429s the item
 * was answered, over every attempt: its line reports them.
 */
export class BudgetedCall {
  /** 429s answered so far, earlier attempts included. */
  rateLimited: number;
  /** What is sent: the prepared body, or the same at the default tier once flex refused it for too long. */
  private body: Record<string, unknown>;
  /** Flex's "resource unavailable" answers to this attempt. */
  private flexRefusals = 0;
  /** Set once a flex item falls back: its calls then get the default tier's timeout, not the client's flex one. */
  private timeoutMs: number | undefined;
  private readonly now: () => number;

  constructor(
    private readonly path: CallPath,
    private readonly spec: CallSpec,
    rateLimitedBefore = 0,
  ) {
    this.rateLimited = rateLimitedBefore;
    this.now = spec.now ?? Date.now;
    const flex = spec.flex;
    this.body = spec.body;
    if (flex && asksForFlex(spec.body) && flexTimeIsUp(this.now(), flex.refusedSince, flex.fallbackMs)) this.fallBackToDefaultTier(flex);
  }

  /** From now on the item goes at the default tier, with the default tier's timeout. */
  private fallBackToDefaultTier(flex: FlexFallback): void {
    this.body = atDefaultTier(this.body);
    this.timeoutMs = flex.defaultTierTimeoutMs;
  }

  /**
   * One call, made again after each 429 until it is answered otherwise. Throws the call's ApiCallError,
   * CallNotMadeError when the ledger's claim says not to call, or whatever `inCallSlot` throws.
   */
  async send(idempotencyKey: string): Promise<CreateResponseResult> {
    let rateLimitedThisAttempt = 0;
    for (;;) {
      let waitMs = 0;
      const res = await this.path.inCallSlot(this.spec.run, async () => {
        const answer = await this.callOnce(idempotencyKey);
        if (answer instanceof FlexRefusal) {
          waitMs = await this.afterFlexRefusal(answer.error);
          return null;
        }
        if (!(answer instanceof RateLimitedAnswer)) return answer;
        this.rateLimited++;
        rateLimitedThisAttempt++;
        waitMs = answer.waitMs;
        // Past the cap (a quota that never comes back answers 429 too), the 429 uses an attempt.
        if (rateLimitedThisAttempt < MAX_RATE_LIMITED_PER_ATTEMPT) return null;
        throw answer.error;
      });
      if (res) return res;
      if (waitMs > 0) await this.path.waitAfter429(this.spec.run, waitMs, this.spec.signal);
    }
  }

  /** How long to wait after flex refused the call; 0 when it goes again at once, at the default tier. */
  private async afterFlexRefusal(err: CapacityUnavailableError): Promise<number> {
    const flex = this.spec.flex!;
    const now = this.now();
    if (flex.refusedSince === null) {
      flex.refusedSince = now;
      await flex.noteFirstRefusal(now);
    }
    this.flexRefusals++;
    const step = flexNextStep(now, flex.refusedSince, this.flexRefusals, flex, err.retryAfterMs);
    if (!step.fallBack) return step.waitMs;
    this.fallBackToDefaultTier(flex);
    return 0;
  }

  /** Budget, claim, request, settle: the answer, the 429 with the limiter's verdict on it, or flex's refusal. */
  private async callOnce(idempotencyKey: string): Promise<CreateResponseResult | RateLimitedAnswer | FlexRefusal> {
    const { path, spec } = this;
    spec.signal?.throwIfAborted();
    const lease = await path.limiter.acquire(spec.budget, spec.estimatedTokens, spec.jobId, spec.signal);
    const claim = await path.claimCall(spec.run, spec.jobId, spec.owner);
    if (claim.state !== 'go') {
      await path.limiter.settle(spec.budget, lease, spec.estimatedTokens, 0, null);
      throw new CallNotMadeError(claim);
    }
    try {
      const res = await spec.client.createResponse(this.body, { signal: spec.signal, idempotencyKey, ...(this.timeoutMs === undefined ? {} : { timeoutMs: this.timeoutMs }) });
      path.apiAnswered?.(spec.run);
      await path.limiter.settle(spec.budget, lease, spec.estimatedTokens, totalTokens(res.json), res.headers);
      return res;
    } catch (err) {
      if (err instanceof CapacityUnavailableError && spec.flex && asksForFlex(this.body)) {
        // No capacity at the flex tier: not the key's limits, and not billed. The budget only gets its tokens back.
        path.apiAnswered?.(spec.run);
        await path.limiter.settle(spec.budget, lease, spec.estimatedTokens, 0, null);
        return new FlexRefusal(err);
      }
      if (err instanceof RateLimitedError) {
        path.apiAnswered?.(spec.run);
        const { waitMs } = await path.limiter.onRateLimited(spec.budget, lease, spec.estimatedTokens, err);
        return new RateLimitedAnswer(err, waitMs);
      }
      // A refused call costs no tokens; an unanswered one may have (the estimate stays charged).
      await path.limiter.settle(spec.budget, lease, spec.estimatedTokens, err instanceof ApiCallError && err.status !== null ? 0 : null, null);
      throw err;
    }
  }
}

/** Flex had no capacity for the call ("resource unavailable"). */
class FlexRefusal {
  constructor(readonly error: CapacityUnavailableError) {}
}

/** A 429 and what the limiter made of it (how long this call alone waits; 0 when the budget paused). */
class RateLimitedAnswer {
  constructor(
    readonly error: RateLimitedError,
    readonly waitMs: number,
  ) {}
}

function totalTokens(json: unknown): number | null {
  const usage = (json as { usage?: { total_tokens?: unknown } } | null)?.usage;
  return typeof usage?.total_tokens === 'number' ? usage.total_tokens : null;
}
