// The baseline respool is compared with: what a careful hand-written script does. It reads the same
// JSONL prompts, sends each with p-limit + fetch at the same concurrency, and appends one line per item.
import { createReadStream, createWriteStream } from 'node:fs';
import readline from 'node:readline';
import pLimit from 'p-limit';

const [file, baseUrl, concurrency, out] = process.argv.slice(2);
const limit = pLimit(Number(concurrency));
const sink = createWriteStream(out);
const tasks = [];
const rl = readline.createInterface({ input: createReadStream(file), crlfDelay: Infinity });
for await (const text of rl) {
  if (!text.trim()) continue;
  const item = JSON.parse(text);
  tasks.push(
    limit(async () => {
      const started = Date.now();
      const res = await fetch(`${baseUrl}/responses`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer bench' },
        body: JSON.stringify({
          model: 'bench-model',
          input: [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: item.prompt }] }],
          store: false,
        }),
      });
      const json = await res.json();
      const outputText = json.output
        .filter((o) => o.type === 'message')
        .flatMap((o) => o.content.filter((c) => c.type === 'output_text').map((c) => c.text))
        .join('');
      sink.write(`${JSON.stringify({ custom_id: item.custom_id, output_text: outputText, usage: json.usage, latency_ms: Date.now() - started })}\n`);
    }),
  );
}
await Promise.all(tasks);
await new Promise((resolve) => sink.end(resolve));
