import { access, constants, lstat, opendir, stat } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError } from '../config/load.js';
import { globFiles, isPattern } from '../inputs/files.js';
import { errorCode, errorText } from '../inputs/context.js';

/**
 * Every input the job names must be there before anything is queued: a file or folder that is
 * missing or cannot be read, or a pattern that matches nothing (a nightly mount that is absent), is a
 * bad setting, not a run with one `rejected` line. Files named inside a CSV or JSONL file are the
 * readers' business: those stay per-line rejections.
 */
export async function checkInputs(inputs: string[], cwd: string): Promise<void> {
  const problems: string[] = [];
  for (const input of inputs) {
    const problem = await inputProblem(input, cwd);
    if (problem) problems.push(`  - ${problem}`);
  }
  if (problems.length > 0) throw new ConfigError(`cannot read the inputs:\n${problems.join('\n')}`);
}

async function inputProblem(input: string, cwd: string): Promise<string | null> {
  const abs = path.resolve(cwd, input);
  try {
    const info = await stat(abs);
    if (info.isDirectory()) await (await opendir(abs)).close();
    else await access(abs, constants.R_OK);
    return null;
  } catch (err) {
    const code = errorCode(err);
    if (code !== 'ENOENT') return `${input}: cannot be read (${code ?? errorText(err)})`;
  }
  if (await exists(abs)) return `${input}: a symbolic link to something that does not exist`;
  if (!isPattern(input)) return `${input}: no such file or folder`;
  try {
    if ((await globFiles(input, cwd)).length > 0) return null;
  } catch (err) {
    return `${input}: cannot search for it (${errorText(err)})`;
  }
  return `${input}: the pattern matched no files (names starting with a dot are skipped)`;
}

/** lstat: true for a link even when what it points to is gone. */
async function exists(abs: string): Promise<boolean> {
  try {
    await lstat(abs);
    return true;
  } catch {
    return false;
  }
}
