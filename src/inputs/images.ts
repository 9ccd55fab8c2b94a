import type { Stats } from 'node:fs';
import { open, realpath, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { fingerprintOf } from '../core/file-fingerprint.js';
import type { FileFingerprint, ImageRef, ReadOutcome } from '../core/item.js';
import { errorCode, errorText, inputFile, rejected, toPosix, type ReaderContext } from './context.js';
import { CONVERTIBLE_FORMATS, describeUnsupported, imageSizeProblem, sniffImageType, SNIFF_BYTES, unsupportedImageReason, type SupportedImageType } from './image-type.js';
import type { ImageRoots } from './image-roots.js';
import { renderTemplate } from './template.js';

/** `mime` is null for a format that the worker converts before sending (`convert`). */
export type ImageCheck = { ok: true; mime: SupportedImageType | null; size: number; seen: FileFingerprint } | { ok: false; reason: string };

/**
 * Decides whether a file can be sent as an image, reading only its first bytes plus `stat`: the whole file is
 * read later by the worker, so a run over a large photo folder never holds image bytes in memory or in Redis.
 */
export async function inspectImageFile(absPath: string, maxBytes: number, convert = false): Promise<ImageCheck> {
  let info: Stats;
  try {
    info = await stat(absPath);
  } catch (err) {
    return { ok: false, reason: cannotRead(err) };
  }
  // Checked before opening: reading from a FIFO or a device could block forever.
  if (info.isDirectory()) return { ok: false, reason: 'this is a directory, not an image file' };
  if (!info.isFile()) return { ok: false, reason: 'not a regular file' };
  if (info.size === 0) return { ok: false, reason: 'the file is empty' };

  let head: Uint8Array;
  try {
    head = await readHead(absPath);
  } catch (err) {
    return { ok: false, reason: cannotRead(err) };
  }
  const mime = sniffImageType(head);
  if (!mime) {
    const known = describeUnsupported(head);
    // The worker converts these; its result is checked against the API's limits when it is made.
    if (convert && known !== null && CONVERTIBLE_FORMATS.has(known)) {
      if (info.size > maxBytes) return { ok: false, reason: `the image is ${info.size} bytes, over the limit of ${maxBytes} bytes` };
      return { ok: true, mime: null, size: info.size, seen: fingerprintOf(info, hostname()) };
    }
    return { ok: false, reason: unsupportedImageReason(head) };
  }
  const sizeProblem = imageSizeProblem(info.size, mime, maxBytes);
  if (sizeProblem) return { ok: false, reason: sizeProblem };
  return { ok: true, mime, size: info.size, seen: fingerprintOf(info, hostname()) };
}

/**
 * One image file as one item. `base` is the folder custom_ids are relative to: the folder given, the static
 * part of a glob pattern, or the file's own folder when a single file was named.
 */
export async function readImageItem(absPath: string, base: string, ctx: ReaderContext): Promise<ReadOutcome> {
  const file = inputFile(absPath, ctx.cwd);
  const customId = toPosix(path.relative(base, absPath));
  const source = { path: file.display };

  const check = await inspectImageFile(absPath, ctx.maxImageBytes, ctx.convertImages);
  if (!check.ok) return rejected(customId, source, `${file.display}: ${check.reason}`);
  // The job keeps the real path and what the file was: the worker opens that path without following
  // a link and sends the file only if it is still this one.
  const real = await realpath(absPath).catch(() => absPath);

  const prompt = renderTemplate(ctx.imagePrompt, { path: customId, name: file.name });
  if (!prompt.ok) {
    const known = ['path', 'name'].map((n) => `{{${n}}}`).join(' and ');
    return rejected(customId, source, `${file.display}: the image prompt uses unknown placeholder(s) ${prompt.missing.join(', ')}; only ${known} are available`);
  }
  return { type: 'item', item: { customId, source, request: { kind: 'prompt', text: prompt.text, images: [{ kind: 'file', path: real, seen: check.seen }] } } };
}

export type ImageValue = { ok: true; ref: ImageRef } | { ok: false; reason: string };

/**
 * An `image` value from a CSV cell or JSONL field: an http(s) URL is passed on as is (the API fetches it);
 * anything else is a path relative to the data file's folder and is checked like any image file.
 */
export async function resolveImageValue(value: string, dataFileDir: string, maxBytes: number, roots?: ImageRoots, convert = false): Promise<ImageValue> {
  const trimmed = value.trim();
  if (/^https?:\/\//i.test(trimmed)) {
    if (!URL.canParse(trimmed)) return { ok: false, reason: `image "${trimmed}" is not a valid URL` };
    return { ok: true, ref: { kind: 'url', url: trimmed } };
  }
  // Confined to the data file's folder or an allowed root, judged on the real path (links followed),
  // and the job keeps that real path, so what the worker reads is what was checked here.
  const abs = await realpath(path.resolve(dataFileDir, trimmed)).catch(() => path.resolve(dataFileDir, trimmed));
  const outside = roots ? await roots.check(abs, dataFileDir) : null;
  if (outside) return { ok: false, reason: `image "${trimmed}" ${outside}` };
  const check = await inspectImageFile(abs, maxBytes, convert);
  if (!check.ok) return { ok: false, reason: `image "${trimmed}": ${check.reason}` };
  return { ok: true, ref: { kind: 'file', path: abs, seen: check.seen } };
}

export async function readHead(absPath: string): Promise<Uint8Array> {
  const handle = await open(absPath, 'r');
  try {
    const buffer = Buffer.alloc(SNIFF_BYTES);
    const { bytesRead } = await handle.read(buffer, 0, SNIFF_BYTES, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

function cannotRead(err: unknown): string {
  switch (errorCode(err)) {
    case 'ENOENT':
      return 'cannot read the file: it does not exist (or is a broken symbolic link)';
    case 'EACCES':
    case 'EPERM':
      return 'cannot read the file: permission denied';
    case 'ELOOP':
      return 'cannot read the file: too many levels of symbolic links';
    default:
      return `cannot read the file: ${errorText(err)}`;
  }
}
