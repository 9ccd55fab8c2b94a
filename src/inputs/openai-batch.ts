/**
 * An OpenAI Batch API input line (`custom_id`, `method`, `url`, `body`) as an OpenResponses request
 * body. Pure: no I/O. `/v1/responses` bodies are taken as they are, `/v1/chat/completions` bodies are
 * converted (./chat-completions.ts); every other endpoint is refused with a reason.
 */
import { chatCompletionsToResponses, type Conversion } from './chat-completions.js';
import { isObject, jsonType } from './json-values.js';


export type { Conversion } from './chat-completions.js';

export function batchLineToResponses(line: { method: unknown; url: unknown; body: unknown }): Conversion {
  const problems: string[] = [];
  if (typeof line.method !== 'string' || line.method.toUpperCase() !== 'POST') problems.push(`method must be "POST", got ${JSON.stringify(line.method)}`);
  if (!isObject(line.body)) problems.push(`body must be a JSON object, got ${jsonType(line.body)}`);
  const endpoint = typeof line.url === 'string' ? endpointOf(line.url) : null;
  if (endpoint === null) problems.push(`url must be a string such as "/v1/responses", got ${JSON.stringify(line.url)}`);
  if (problems.length > 0 || !isObject(line.body)) return { ok: false, reason: problems.join('; ') };

  switch (endpoint) {
    case 'responses':
      return { ok: true, body: line.body };
    case 'chat/completions': {
      const converted = chatCompletionsToResponses(line.body);
      return converted.ok ? converted : { ok: false, reason: `cannot convert this /v1/chat/completions request: ${converted.reason}` };
    }
    case 'embeddings':
      return { ok: false, reason: 'url "/v1/embeddings": embeddings are not supported; respool sends text and image requests to /responses only' };
    default:
      return { ok: false, reason: `url ${JSON.stringify(line.url)} is not supported; use "/v1/responses" or "/v1/chat/completions"` };
  }
}

/** The endpoint a batch `url` names, from its path: `responses`, `chat/completions`, `embeddings` or another. */
function endpointOf(url: string): string {
  // Only the path matters; tolerate a query string or a trailing slash.
  const pathPart = url.replace(/[?#].*$/, '').replace(/\/+$/, '');
  for (const endpoint of ['chat/completions', 'responses', 'embeddings']) {
    if (pathPart === `/${endpoint}` || pathPart === endpoint || pathPart.endsWith(`/${endpoint}`)) return endpoint;
  }
  return pathPart;
}
