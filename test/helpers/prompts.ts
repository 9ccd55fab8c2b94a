import { writeFile } from 'node:fs/promises';

/** `count` custom_ids: `${stem}0`, `${stem}1`, ... */
export function numberedIds(stem: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${stem}${i}`);
}

/** Writes a JSONL input of `{ custom_id, prompt }` lines, one per [id, prompt] pair, and returns its path. */
export async function writePrompts(file: string, prompts: Array<[customId: string, prompt: string]>): Promise<string> {
  await writeFile(file, prompts.map(([id, prompt]) => JSON.stringify({ custom_id: id, prompt })).join('\n') + '\n');
  return file;
}
