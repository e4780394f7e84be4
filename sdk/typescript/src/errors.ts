/** One rule a field broke, from a problem's `details`. */
export interface FieldIssue {
  /** The field's name (a dotted path for nested fields, or a header name). */
  field: string;
  /** What the rule is. */
  message: string;
}

/**
 * Every failure of an `EcosireClient` call: the API's problem details (status, `code`, message,
 * field `details`), or a request that got no usable answer (`status` 0).
 *
 * ```ts
 * try {
 *   await client.contacts.create({ name: "" });
 * } catch (error) {
 *   if (error instanceof EcosireError && error.code === "VALIDATION_FAILED") {
 *     for (const issue of error.details) console.log(issue.field, issue.message);
 *   }
 * }
 * ```
 */
export class EcosireError extends Error {
  override readonly name = "EcosireError";
  /** The HTTP status, or 0 when no response arrived (connection refused, timeout, bad answer). */
  readonly status: number;
  /**
   * The stable machine-readable code: `VALIDATION_FAILED`, `NOT_FOUND`, `RATE_LIMITED`… and for
   * failures without a response `NETWORK_ERROR`, `TIMEOUT` or `INVALID_RESPONSE`.
   */
  readonly code: string;
  /** The fields that failed validation (on 422 and some 400s). */
  readonly details: FieldIssue[];
  /** The server's `X-Request-Id`: quote it when asking for support. */
  readonly requestId: string | undefined;
  /** Seconds the server asked to wait (`Retry-After`), on 429 and 503. */
  readonly retryAfter: number | undefined;
  /** The whole problem body (it may carry more members, such as a license's `reason`). */
  readonly problem: Record<string, unknown>;

  constructor(init: {
    status: number;
    code: string;
    message: string;
    details?: FieldIssue[];
    requestId?: string | undefined;
    retryAfter?: number | undefined;
    problem?: Record<string, unknown>;
    cause?: unknown;
  }) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.status = init.status;
    this.code = init.code;
    this.details = init.details ?? [];
    this.requestId = init.requestId;
    this.retryAfter = init.retryAfter;
    this.problem = init.problem ?? {};
  }

  /** The error an error response carries (problem details, or a bare status when the body is not one). */
  static async fromResponse(response: Response): Promise<EcosireError> {
    const text = await response.text().catch(() => "");
    let problem: Record<string, unknown> = {};
    try {
      const parsed: unknown = JSON.parse(text);
      if (parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)) {
        problem = parsed as Record<string, unknown>;
      }
    } catch {
      // Not JSON (a proxy's error page): the status says what there is to say.
    }
    const text_ = (key: string): string | undefined => {
      const value = problem[key];
      return typeof value === "string" ? value : undefined;
    };
    const details = Array.isArray(problem["details"]) ? (problem["details"] as unknown[]).filter(isFieldIssue) : [];
    return new EcosireError({
      status: response.status,
      code: text_("code") ?? `HTTP_${response.status}`,
      message: text_("message") ?? text_("detail") ?? text_("title") ??
        (response.statusText || `HTTP ${response.status}`),
      details,
      requestId: response.headers.get("X-Request-Id") ?? text_("requestId"),
      retryAfter: parseRetryAfter(response.headers.get("Retry-After")),
      problem,
    });
  }
}

function isFieldIssue(value: unknown): value is FieldIssue {
  if (value === null || typeof value !== "object") return false;
  const record = value as Record<string, unknown>;
  return typeof record["field"] === "string" && typeof record["message"] === "string";
}

/** `Retry-After` in whole seconds: delay-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - now) / 1000));
}
