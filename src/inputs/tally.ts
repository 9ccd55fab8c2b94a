/**
 * What reading the inputs noticed besides items and rejected lines: files skipped in folder walks,
 * empty files, and the models the items will be sent to. The commands log it with the run's counts.
 */
export class InputTally {
  /** Files met in a folder walk or glob that are not images by name nor by content: skipped, no line. */
  skippedNotImages = 0;
  /** Input files that gave no item and no rejected line. */
  readonly emptyFiles: string[] = [];
  /** Items per model they are sent to. */
  readonly models = new Map<string, number>();

  /** `warn` is told at once about what the user should see before the run ends (an empty file). */
  constructor(private readonly warn: (message: string) => void = () => {}) {}

  emptyFile(display: string): void {
    this.emptyFiles.push(display);
    this.warn(`${display} has no items (the file is empty, or a CSV has only its header)`);
  }

  countModel(model: string): void {
    this.models.set(model, (this.models.get(model) ?? 0) + 1);
  }

  /** e.g. `skipped 2 files that are not images, 1 empty file`; empty when there is nothing to say. */
  describe(): string {
    const parts: string[] = [];
    const skipped = this.skippedNotImages;
    if (skipped > 0) parts.push(skipped === 1 ? 'skipped 1 file that is not an image' : `skipped ${skipped} files that are not images`);
    if (this.emptyFiles.length > 0) parts.push(`${plural(this.emptyFiles.length, 'empty file')} (${this.emptyFiles.join(', ')})`);
    return parts.join(', ');
  }

  /** e.g. `gpt-4o-mini (950), gpt-4o (50)`, most items first. */
  describeModels(): string {
    return [...this.models.entries()]
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
      .map(([model, n]) => `${model} (${n})`)
      .join(', ');
  }
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
