/** The input side of `respool export`: the rows of one input file, each with the custom_id it had in the run. */

export interface InputRow {
  /** One value per header column (CSV: the cells; JSONL: the line's top-level fields). */
  values: unknown[];
  customId: string;
  /**
   * The id the row's line has when its custom_id was already used by an earlier row: the run
   * rejected it as a duplicate under its own source (`<path>:<line>`, as the run saw the path).
   * Empty otherwise.
   */
  duplicateId: string;
}

export interface InputTable {
  header: string[];
  rows: AsyncGenerator<InputRow>;
  /** Set when a CSV syntax error stopped the reading (the rows after it have no results either). */
  stoppedAt(): { line: number; message: string } | null;
}

/** The input cannot be read as a table (a CSV header naming a column twice, a missing id column). */
export class InputTableError extends Error {
  override name = 'InputTableError';
}
