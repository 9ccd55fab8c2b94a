/**
 * bullmq, ioredis and winston are CommonJS packages. An ESM `import` of one makes Node scan its files
 * with the CommonJS lexer first, to find its named exports (through every re-export of bullmq's
 * index); `require` skips that scan: about 60 ms of every command's start on a 2-core machine. It is
 * the same module instance either way: none of them has an ESM build that Node would load instead,
 * so tests and type-only imports of the packages still see these very classes.
 */
import { createRequire } from 'node:module';
import type * as BullMQ from 'bullmq';
import type * as IORedis from 'ioredis';
import type WinstonModule from 'winston';

const require = createRequire(import.meta.url);
const bullmq = require('bullmq') as typeof BullMQ;

export const Queue = bullmq.Queue;
export type Queue<Data> = BullMQ.Queue<Data>;
export const Worker = bullmq.Worker;
export type Worker<Data, Result> = BullMQ.Worker<Data, Result>;
export const WaitingError = bullmq.WaitingError;
export const DelayedError = bullmq.DelayedError;

export const Redis = (require('ioredis') as typeof IORedis).Redis;
export type Redis = IORedis.Redis;

export const winston = require('winston') as typeof WinstonModule;
