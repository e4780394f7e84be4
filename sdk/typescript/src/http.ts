import { EcosireError } from "./errors.ts";
import type { Session } from "./generated/schema.ts";

/** When and how long the client waits before sending a request again. */
export interface RetryPolicy {
  /** Attempts after the first (0 turns retries off). Default 3. */
  maxRetries: number;
  /** The backoff's first step in ms; attempt n waits a random time up to `baseDelayMs × 2ⁿ`. Default 500. */
  baseDelayMs: number;
  /** The longest backoff wait in ms. Default 20 000. */
  maxDelayMs: number;
  /** The longest `Retry-After` (seconds) the client waits for; a longer one is returned as the error. Default 60. */
  maxRetryAfterSeconds: number;
}

/** Options of `new EcosireClient(…)`. */
export interface ClientOptions {
  /** The server, such as `https://api.example.com` (a trailing `/api` is accepted too). */
  baseUrl: string;
  /** An API key (`ecos_live_…` or `ecos_test_…`), sent unless a session is active. */
  apiKey?: string | undefined;
  /** An access token obtained elsewhere. */
  accessToken?: string | undefined;
  /** How failed requests are retried. */
  retry?: Partial<RetryPolicy>;
  /** Per-attempt timeout in ms. Default 30 000. */
  timeoutMs?: number;
  /** The `fetch` to use (default: the global one). */
  fetch?: typeof fetch;
}

/** Per-call options, the last argument of every method. */
export interface RequestOptions {
  /** Sent as `Idempotency-Key` (by default the client makes one for POSTs that accept it). */
  idempotencyKey?: string;
  /** Cancels the call. */
  signal?: AbortSignal;
  /** Extra headers. */
  headers?: Record<string, string>;
}

/** One operation call, as the generated namespaces describe it. */
export interface RequestSpec extends RequestOptions {
  operationId: string;
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  path: string;
  query?: object;
  body?: unknown;
  /** The body's media type when it is not JSON (`text/csv`, `multipart/form-data`). */
  contentType?: string;
  /** How to read a success: JSON (default), nothing, text or bytes. */
  response?: "json" | "none" | "text" | "binary";
  /** The success's media type when it is not JSON (`application/pdf`…). */
  accept?: string;
  /** Takes no credentials: the client sends none. */
  public?: boolean;
  /** A POST that accepts `Idempotency-Key`, and so may be retried. */
  idempotent?: boolean;
}

const DEFAULT_RETRY: RetryPolicy = { maxRetries: 3, baseDelayMs: 500, maxDelayMs: 20_000, maxRetryAfterSeconds: 60 };
const REPEATABLE_METHODS = new Set(["GET", "HEAD", "PUT", "PATCH", "DELETE"]);

/**
 * Sends requests: credentials (the session's access token after login, else the API key), one
 * `Idempotency-Key` per POST that accepts it, retries (429 always — the server did not run the
 * request; 5xx and connection failures when repeating is safe) that honour `Retry-After` or back
 * off exponentially with full jitter, one session refresh on 401, and every failure as an
 * `EcosireError`.
 */
export class HttpCore {
  readonly baseUrl: string;
  readonly retry: RetryPolicy;
  private readonly timeoutMs: number;
  private readonly fetchImpl: typeof fetch;
  private apiKey: string | undefined;
  private accessToken: string | undefined;
  private refreshToken: string | undefined;
  private refreshing: Promise<string | undefined> | undefined;
  /** The session of the last login or refresh. */
  session: Session | undefined;

  constructor(options: ClientOptions) {
    if (!options.baseUrl) throw new TypeError("baseUrl is required");
    // The operations' paths start with /api, so a base URL that ends with it is taken without it.
    this.baseUrl = options.baseUrl.replace(/\/+$/, "").replace(/\/api$/, "");
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.apiKey = options.apiKey;
    this.accessToken = options.accessToken;
  }

  /** Uses `session` for later requests (undefined forgets it; the API key, if any, applies again). */
  storeSession(session: Session | undefined): void {
    this.session = session;
    this.accessToken = session?.token;
    this.refreshToken = session?.refreshToken;
  }

  /** Sends one operation call; resolves with its success body, rejects with `EcosireError`. */
  async request<T>(spec: RequestSpec): Promise<T> {
    const headers = new Headers(spec.headers);
    // Errors come as application/problem+json whatever the success's type.
    headers.set("Accept", `${spec.accept ?? "application/json"}, application/problem+json`);
    let body: BodyInit | null = null;
    if (spec.body !== undefined) {
      if (spec.contentType === "multipart/form-data") {
        body = spec.body as FormData;
      } else if (spec.contentType !== undefined) {
        headers.set("Content-Type", spec.contentType);
        body = String(spec.body);
      } else {
        headers.set("Content-Type", "application/json");
        body = JSON.stringify(spec.body);
      }
    }
    const idempotencyKey = spec.idempotencyKey ?? (spec.idempotent ? crypto.randomUUID() : undefined);
    if (idempotencyKey !== undefined) headers.set("Idempotency-Key", idempotencyKey);
    const repeatable = REPEATABLE_METHODS.has(spec.method) || idempotencyKey !== undefined;
    const url = this.url(spec.path, spec.query);

    const authenticate = !spec.public && !headers.has("Authorization");
    let refreshed = false;
    for (let attempt = 0;; attempt += 1) {
      const canRetry = attempt < this.retry.maxRetries;
      // Read per attempt: a refresh by a concurrent call replaces the token.
      const usingAccessToken = authenticate && this.accessToken !== undefined;
      const credential = authenticate ? (this.accessToken ?? this.apiKey) : undefined;
      if (credential !== undefined) headers.set("Authorization", `Bearer ${credential}`);
      let response: Response;
      try {
        response = await this.send(url, { method: spec.method, headers, body, signal: spec.signal });
      } catch (error) {
        if (spec.signal?.aborted) throw error;
        if (!(canRetry && repeatable)) throw networkError(error);
        await sleep(this.backoff(attempt), spec.signal);
        continue;
      }
      if (response.ok) return await read<T>(response, spec.response ?? "json");

      if (response.status === 401 && !refreshed && usingAccessToken && credential !== undefined) {
        refreshed = true;
        const renewed = await this.refreshedToken(credential);
        if (renewed !== undefined) {
          await response.body?.cancel();
          attempt -= 1; // A refresh is not a retry.
          continue;
        }
      }
      const error = await EcosireError.fromResponse(response);
      const retryable = response.status === 429 ||
        (response.status >= 500 && response.status !== 501 && repeatable) ||
        (response.status === 409 && idempotencyKey !== undefined && error.code === "IDEMPOTENCY_KEY_IN_USE");
      if (!retryable || !canRetry) throw error;
      if (error.retryAfter !== undefined && error.retryAfter > this.retry.maxRetryAfterSeconds) throw error;
      await sleep(error.retryAfter !== undefined ? error.retryAfter * 1000 : this.backoff(attempt), spec.signal);
    }
  }

  /** Full jitter: a random wait up to `baseDelayMs × 2^attempt`, capped. */
  private backoff(attempt: number): number {
    const ceiling = Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** attempt);
    return Math.random() * ceiling;
  }

  /** Query values are percent-encoded (a space is `%20`: `+` means a space only in HTML forms). */
  private url(path: string, query: object | undefined): string {
    const pairs: string[] = [];
    for (const [name, value] of Object.entries(query ?? {})) {
      if (value === undefined || value === null) continue;
      for (const item of Array.isArray(value) ? value : [value]) {
        pairs.push(`${encodeURIComponent(name)}=${encodeURIComponent(String(item))}`);
      }
    }
    return this.baseUrl + path + (pairs.length > 0 ? `?${pairs.join("&")}` : "");
  }

  private async send(
    url: string,
    init: { method: string; headers: Headers; body: BodyInit | null; signal: AbortSignal | undefined },
  ): Promise<Response> {
    const timeout = AbortSignal.timeout(this.timeoutMs);
    const signal = init.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
    return await this.fetchImpl(url, { method: init.method, headers: init.headers, body: init.body, signal });
  }

  /**
   * A new access token after `failed` was refused: the one a concurrent request already got, or
   * the result of one refresh (single-flight). Undefined when there is no refresh token or the
   * refresh failed (the session is then forgotten).
   */
  private refreshedToken(failed: string): Promise<string | undefined> {
    if (this.accessToken !== undefined && this.accessToken !== failed) return Promise.resolve(this.accessToken);
    if (this.refreshing) return this.refreshing;
    const refreshToken = this.refreshToken;
    if (refreshToken === undefined) return Promise.resolve(undefined);
    this.refreshing = this.request<Session>({
      operationId: "refreshToken",
      method: "POST",
      path: "/api/auth/refresh",
      body: { refreshToken },
      public: true,
    }).then(
      (session) => {
        this.storeSession(session);
        return session.token;
      },
      () => {
        this.storeSession(undefined);
        return undefined;
      },
    ).finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }
}

async function read<T>(response: Response, kind: "json" | "none" | "text" | "binary"): Promise<T> {
  try {
    switch (kind) {
      case "none":
        await response.body?.cancel();
        return undefined as T;
      case "text":
        return (await response.text()) as T;
      case "binary":
        return new Uint8Array(await response.arrayBuffer()) as T;
      case "json":
        return (await response.json()) as T;
    }
  } catch (cause) {
    throw new EcosireError({
      status: response.status,
      code: "INVALID_RESPONSE",
      message: `The response body could not be read: ${String(cause)}`,
      requestId: response.headers.get("X-Request-Id") ?? undefined,
      cause,
    });
  }
}

function networkError(cause: unknown): EcosireError {
  const timedOut = cause instanceof DOMException && cause.name === "TimeoutError";
  return new EcosireError({
    status: 0,
    code: timedOut ? "TIMEOUT" : "NETWORK_ERROR",
    message: `No response: ${cause instanceof Error ? cause.message : String(cause)}`,
    cause,
  });
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", abort);
      resolve();
    }, ms);
    const abort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", abort, { once: true });
  });
}
