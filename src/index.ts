/**
 * respool as a library: `import { openRespool } from 'respool'`. docs/library.md shows it at work;
 * the fake OpenResponses server for tests is `respool/fake-server`.
 */
export { openRespool } from './respool.js';
export type {
  CollectOptions,
  CollectResult,
  EnqueueResult,
  ReportOptions,
  Respool,
  RespoolOptions,
  RunHandle,
  RunOptions,
  RunOutcome,
  RunResult,
  WorkOptions,
} from './respool.js';

/** A job as a job file holds it (docs/job-file.md). */
export type { Job } from './pipeline/job.js';
/** A job after validation and defaults: every setting a run uses. */
export type { JobConfig, ExecutionMode } from './config/schema.js';
/** One line of the results file (docs/output-line.md), with its status, usage, cost and error. */
export type { OutputLine, LineStatus, LineError, LineCost, ErrorType, Usage } from './core/output-line.js';
/** The logger interface respool logs through (`console` fits it). */
export type { Logger } from './core/logger.js';
export type { RunProgress } from './pipeline/progress-events.js';
export type { RunTotals } from './report/line-totals.js';
export type { EnqueueStats } from './pipeline/enqueue.js';
export type { WorkHandle } from './pipeline/work.js';
export type { RunReport, LabeledBudget, BatchReport } from './pipeline/status.js';
export type { RetryResult, CancelResult, RetryableStatus } from './pipeline/run-control.js';
export type { UnsuccessfulLines } from './pipeline/outcome.js';
export type { EstimateReport } from './pipeline/estimate.js';
export type { ReportFormat } from './pipeline/report.js';
/** The states of a run in Redis, and why a stopped run stopped. */
export type { RunState, StopKind } from './queue/run-meta.js';
/** A schedule as `rp.schedules()` lists it, and when `rp.schedule` fires one. */
export type { ScheduleInfo, ScheduleOptions } from './schedule/manage.js';
/** PEM contents for a `rediss://` Redis (`redisTls`). */
export type { RedisTls } from './queue/redis-security.js';

/** A bad setting: the message lists each bad field and where it came from. */
export { ConfigError } from './config/load.js';
/** Another collector holds the run's results file (one writer per run). */
export { CollectorBusyError, RunStateLostError } from './sinks/collector.js';
/** A missing results file or a glob that matched nothing, for `report`. */
export { ReportInputError } from './report/read-results.js';
/** A results file or input that `export` cannot read, or an input that is not a table. */
export { ExportInputError } from './pipeline/export.js';
/** What `rp.export` is asked, and what it wrote. */
export type { ExportRequest, ExportStats, ExportFormat } from './pipeline/export.js';
/**
 * Typed failures of one API call, as results lines carry them in `error.type`: each class says
 * whether it is `retryable` and whether it `stopsRun`.
 */
export {
  ApiCallError,
  AuthenticationError,
  CapacityUnavailableError,
  InvalidRequestError,
  NetworkError,
  RateLimitedError,
  RequestTimeoutError,
  ResponseFailedError,
  ServerError,
} from './worker/errors.js';
export type { ApiErrorDetails } from './worker/errors.js';
/**
 * The provider Batch API's failures (mode `batch` or `auto`), in the same tree: no Batch API at the
 * base URL (stops the run), and a file or batch that is not there.
 */
export { BatchApiUnavailableError, BatchObjectNotFoundError } from './batch/client.js';
