/**
 * What `respool status` calls a budget: its model and the API's host, e.g. `gpt-4o-mini @
 * api.example.com`. Budgets are keyed by a hash that includes the API key; the label never has the
 * key, nor a user or password the base URL might hold. Pure.
 */
export function budgetLabel(model: string, baseUrl: string): string {
  let host: string;
  try {
    host = new URL(baseUrl).host;
  } catch {
    host = 'unknown host';
  }
  return `${model} @ ${host}`;
}
