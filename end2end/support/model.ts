// The scripted model server the browser tests run against (examples/model_server.rs, the Rust
// tests' scripted model server, tests/kit/src/model.rs, as a process): Sigmic's model calls go there, and a test scripts
// the answers over its /_control/ API. Conversations are told apart by a key somewhere in their
// first user message, so a test puts a unique key in the message it sends and scripts that key;
// `push` feeds every conversation without a script. A conversation whose turns ran out gets the
// text "(script exhausted)". The server's address comes from SIGMIC_E2E_MODEL_URL (set by
// .ci/test; see README.md to run by hand).

/** One tool call of a reply; `args` defaults to `{}`. */
export type ToolCall = { name: string; args?: Record<string, unknown> };

/**
 * One scripted answer to one model call, exactly one of:
 * - a reply: `text` (one chunk) or `chunks` (one streamed event each), then `calls`, any of
 *   them, with optional `thought` (reasoning streamed first), `usage` ([input, output] tokens),
 *   `chunkDelayMs` (between two events) and `dropAfter` (cut the connection after n events);
 * - an error before streaming: `error` (`status` 400–599), with `retryAfter` seconds (a 429
 *   says 0 without it);
 * - `hang: true`: response headers, then nothing until the client goes away.
 * The server answers 400 to any other field or mix, and queues none of the turns then.
 */
export type Turn = {
  text?: string;
  chunks?: string[];
  calls?: ToolCall[];
  thought?: string;
  usage?: [number, number];
  chunkDelayMs?: number;
  dropAfter?: number;
  error?: { status: number; message?: string };
  retryAfter?: number;
  hang?: boolean;
};

/** A model call the server received, as the provider client sent it. */
export type RecordedRequest = {
  provider: 'openai' | 'anthropic' | 'gemini';
  /** Path and query, e.g. `/v1/chat/completions`. */
  path: string;
  model: string;
  /** The request body: for OpenAI, `{model, messages, tools, stream, …}`. */
  body: Record<string, any>;
  /** The text of the first user message, which conversations are keyed by. */
  firstUserText: string;
};

/** The model server's base URL, from SIGMIC_E2E_MODEL_URL. */
export function modelUrl(): string {
  const url = process.env.SIGMIC_E2E_MODEL_URL;
  if (!url) {
    throw new Error(
      'SIGMIC_E2E_MODEL_URL is not set: start examples/model_server and point Sigmic at it (end2end/README.md)',
    );
  }
  return url.replace(/\/+$/, '');
}

async function call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${modelUrl()}/_control/${path}`, {
    method,
    headers: body === undefined ? undefined : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) {
    throw new Error(`model server: ${method} /_control/${path}: ${response.status} ${text}`);
  }
  return JSON.parse(text) as T;
}

/**
 * Turns for the conversation whose first user message contains `key` (the longest matching key
 * wins), after any it has already. Resolves to the turns that key has left.
 */
export async function script(key: string, turns: Turn[]): Promise<number> {
  return (await call<{ queued: number }>('POST', 'script', { key, turns })).queued;
}

/** Turns for conversations without a script, first come first served. Resolves to the pushed turns left. */
export async function push(turns: Turn[]): Promise<number> {
  return (await call<{ queued: number }>('POST', 'push', { turns })).queued;
}

/** The requests of the conversation whose first user message contains `key`, oldest first (all without a key). */
export async function requests(key?: string): Promise<RecordedRequest[]> {
  const query = key === undefined ? '' : `?key=${encodeURIComponent(key)}`;
  return call<RecordedRequest[]>('GET', `requests${query}`);
}
