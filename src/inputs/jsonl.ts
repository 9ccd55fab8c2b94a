import { createReadStream } from 'node:fs';
import path from 'node:path';
import type { ImageRef, ReadOutcome, SourceRef } from '../core/item.js';
import { errorText, rejected, type InputFile, type ReaderContext } from './context.js';
import { DEFAULTS } from '../config/defaults.js';
import { decodeLineBatches, INVALID_UTF8_REASON, type InputEncoding } from './encoding.js';
import { resolveImageValue } from './images.js';
import { batchLineToResponses } from './openai-batch.js';
import { isObject, jsonType, type JsonObject } from './json-values.js';
import { renderTemplate } from './template.js';


/** Everything a single line needs to become an outcome. */
interface LineContext {
  file: InputFile;
  ctx: ReaderContext;
  line: number;
  where: string;
  source: SourceRef;
}

/**
 * Reads a JSONL/NDJSON file line by line through readline, so memory is bounded by the longest line.
 * Line numbers are physical (1-based, blank lines counted) and blank or whitespace-only lines are skipped.
 *
 * Each object line is one of three shapes, tried in this order:
 *  (a) an OpenAI-Batch-style request (`method`, `url` and `body`): a `/v1/responses` body is sent as is, a
 *      `/v1/chat/completions` body is converted (./openai-batch.ts);
 *  (b) a line with `input`: that input is sent, plus any `image` refs;
 *  (c) anything else: the template is rendered with the line's fields.
 */
export async function* readJsonl(file: InputFile, ctx: ReaderContext): AsyncGenerator<ReadOutcome> {
  let line = 0;
  try {
    for await (const l of jsonlLines(file.abs, ctx.encoding)) {
      line = l.line;
      if (l.text.trim() === '') continue;
      const where = `${file.display}:${line}`;
      if (!l.valid) {
        yield rejected(`${file.name}:${line}`, { file: file.display, line }, `${where}: ${INVALID_UTF8_REASON}`);
        continue;
      }
      yield await readLine(l.text, { file, ctx, line, where, source: { file: file.display, line } });
    }
  } catch (err) {
    if (line === 0) yield rejected(file.name, { path: file.display }, `${file.display}: cannot read the file: ${errorText(err)}`);
    else yield rejected(`${file.name}:${line + 1}`, { file: file.display, line: line + 1 }, `${file.display}:${line + 1}: reading failed (${errorText(err)}); the rest of this file was not read`);
  }
}

/**
 * Every line of a JSONL file with its physical line number (1-based), blank ones included, a BOM
 * removed from the first; `valid` is false for a line whose bytes are not valid in `encoding`. The
 * reader and `respool export` both number lines with it.
 */
export async function* jsonlLines(abs: string, encoding: InputEncoding = DEFAULTS.encoding): AsyncGenerator<{ text: string; line: number; valid: boolean }> {
  const stream = createReadStream(abs);
  try {
    for await (const lines of decodeLineBatches(stream, encoding)) {
      for (const l of lines) yield { text: l.text, line: l.line, valid: l.valid };
    }
  } finally {
    stream.destroy();
  }
}

/**
 * The custom_id a JSONL line gets (docs/job-file.md#custom_id), and the line's object: the id field's
 * value, else `<file name>:<line>` (also for a line that is not a JSON object, or whose id is
 * unusable: the reader rejects those under that id). Used by `respool export`.
 */
export function jsonlRowId(text: string, fileName: string, line: number, idColumn: string | undefined): { customId: string; value: JsonObject | null } {
  const fallbackId = `${fileName}:${line}`;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { customId: fallbackId, value: null };
  }
  if (!isObject(value)) return { customId: fallbackId, value: null };
  const id = customIdOf(value, idColumn ?? 'custom_id');
  return { customId: id.ok && id.value !== undefined ? id.value : fallbackId, value };
}

async function readLine(text: string, lc: LineContext): Promise<ReadOutcome> {
  const fallbackId = `${lc.file.name}:${lc.line}`;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return rejected(fallbackId, lc.source, `${lc.where}: malformed JSON (${errorText(err)})`);
  }
  if (!isObject(value)) return rejected(fallbackId, lc.source, `${lc.where}: expected a JSON object, got ${jsonType(value)}`);

  const id = customIdOf(value, lc.ctx.idColumn ?? 'custom_id');
  if (!id.ok) return rejected(fallbackId, lc.source, `${lc.where}: ${id.reason}`);
  const customId = id.value ?? fallbackId;

  if ('method' in value && 'url' in value && 'body' in value) return batchRequest(value, customId, lc);
  if ('input' in value) return inputRequest(value, customId, lc);
  return promptRequest(value, customId, lc);
}

type IdResult = { ok: true; value: string | undefined } | { ok: false; reason: string };

/** An absent (or null) id means "use the file:line fallback"; a present but unusable one is an error. */
function customIdOf(line: JsonObject, field: string): IdResult {
  const id = line[field];
  if (id === undefined || id === null) return { ok: true, value: undefined };
  if (typeof id === 'number') return { ok: true, value: String(id) };
  if (typeof id === 'string' && id.trim() !== '') return { ok: true, value: id };
  return { ok: false, reason: `"${field}" must be a non-empty string or a number` };
}

function batchRequest(line: JsonObject, customId: string, lc: LineContext): ReadOutcome {
  const converted = batchLineToResponses({ method: line.method, url: line.url, body: line.body });
  if (!converted.ok) return rejected(customId, lc.source, `${lc.where}: batch-style request line: ${converted.reason}`);
  return { type: 'item', item: { customId, source: lc.source, request: { kind: 'body', body: converted.body } } };
}

async function inputRequest(line: JsonObject, customId: string, lc: LineContext): Promise<ReadOutcome> {
  const input = line.input;
  if (typeof input !== 'string' && !Array.isArray(input)) {
    return rejected(customId, lc.source, `${lc.where}: "input" must be a string or an array, got ${jsonType(input)}`);
  }
  const images = await lineImages(line, lc);
  if (!images.ok) return rejected(customId, lc.source, `${lc.where}: ${images.reason}`);
  return { type: 'item', item: { customId, source: lc.source, request: { kind: 'input', input, images: images.refs } } };
}

async function promptRequest(line: JsonObject, customId: string, lc: LineContext): Promise<ReadOutcome> {
  const prompt = renderTemplate(lc.ctx.template, line);
  if (!prompt.ok) {
    return rejected(customId, lc.source, `${lc.where}: the template uses field(s) missing from this line: ${prompt.missing.join(', ')}`);
  }
  const images = await lineImages(line, lc);
  if (!images.ok) return rejected(customId, lc.source, `${lc.where}: ${images.reason}`);
  return { type: 'item', item: { customId, source: lc.source, request: { kind: 'prompt', text: prompt.text, images: images.refs } } };
}

type ImagesResult = { ok: true; refs: ImageRef[] } | { ok: false; reason: string };

/**
 * The optional `image` and `images` fields: each one path/URL or an array of them, paths relative to
 * the JSONL file. Both may be given; `image` comes first.
 */
async function lineImages(line: JsonObject, lc: LineContext): Promise<ImagesResult> {
  const refs: ImageRef[] = [];
  for (const name of ['image', 'images'] as const) {
    const field = line[name];
    if (field === undefined || field === null) continue;
    const found = await fieldImages(name, Array.isArray(field) ? field : [field], lc);
    if (!found.ok) return found;
    refs.push(...found.refs);
  }
  return { ok: true, refs };
}

async function fieldImages(name: string, values: unknown[], lc: LineContext): Promise<ImagesResult> {
  const refs: ImageRef[] = [];
  for (const value of values) {
    if (typeof value !== 'string' || value.trim() === '') return { ok: false, reason: `"${name}" must be a path or URL string, or an array of them` };
    const image = await resolveImageValue(value, path.dirname(lc.file.abs), lc.ctx.maxImageBytes, lc.ctx.imageRoots, lc.ctx.convertImages);
    if (!image.ok) return { ok: false, reason: image.reason };
    refs.push(image.ref);
  }
  return { ok: true, refs };
}
