/**
 * One pass over a request's `instructions` and `input` that gathers what the fake needs: how much
 * text there is (for token counts), the images (for image tokens) and the last user text (the
 * "prompt" the deterministic answer is made from). The body has already passed schema validation,
 * but this still tolerates odd shapes because it never throws on a request.
 */

export interface ImageInput {
  url: string | null;
  detail: string | null;
}

export interface InputDigest {
  /** Characters of all text in instructions and input. */
  chars: number;
  images: ImageInput[];
  /** Text of the last user message (string input counts as one); '' when there is none. */
  lastUserText: string;
}

export function digestInput(instructions: unknown, input: unknown): InputDigest {
  const d: InputDigest = { chars: 0, images: [], lastUserText: '' };
  if (typeof instructions === 'string') d.chars += instructions.length;
  if (typeof input === 'string') {
    d.chars += input.length;
    d.lastUserText = input;
  } else if (Array.isArray(input)) {
    for (const item of input) digestItem(d, item);
  }
  return d;
}

function digestItem(d: InputDigest, item: unknown): void {
  if (!isObject(item)) return;
  switch (item.type) {
    case 'message': {
      const text = digestContent(d, item.content);
      if (item.role === 'user') d.lastUserText = text;
      return;
    }
    case 'function_call':
      if (typeof item.arguments === 'string') d.chars += item.arguments.length;
      return;
    case 'function_call_output':
      digestContent(d, item.output);
      return;
    case 'reasoning':
      digestContent(d, item.summary);
      return;
    default:
      return;
  }
}

/** Adds the content's text and images to the digest and returns its text joined. */
function digestContent(d: InputDigest, content: unknown): string {
  if (typeof content === 'string') {
    d.chars += content.length;
    return content;
  }
  if (!Array.isArray(content)) return '';
  let text = '';
  for (const part of content) {
    if (!isObject(part)) continue;
    if (part.type === 'input_image') {
      d.images.push({
        url: typeof part.image_url === 'string' ? part.image_url : null,
        detail: typeof part.detail === 'string' ? part.detail : null,
      });
    } else if (typeof part.text === 'string') {
      d.chars += part.text.length;
      text = text ? `${text}\n${part.text}` : part.text;
    } else if (typeof part.refusal === 'string') {
      d.chars += part.refusal.length;
    }
  }
  return text;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
