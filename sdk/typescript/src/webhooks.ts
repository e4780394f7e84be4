/**
 * Checks the signatures of the webhook deliveries an Ecosire server sends. Comparisons run inside
 * WebCrypto's `verify`, in constant time. Always pass the body exactly as received (the raw text
 * or bytes), before any JSON parsing.
 *
 * ```ts
 * const event = await constructEvent(await request.text(), request.headers.get("X-Ecosire-Signature"), secret);
 * console.log(event.type);
 * ```
 */

/** Why a signature was refused. */
export type WebhookFailure =
  | "missing_header"
  | "malformed_header"
  | "timestamp_out_of_tolerance"
  | "no_matching_signature";

/** A refused webhook signature, with the reason. */
export class WebhookVerificationError extends Error {
  override readonly name = "WebhookVerificationError";
  constructor(readonly reason: WebhookFailure, message: string) {
    super(message);
  }
}

/** A verified delivery's envelope. */
export interface WebhookEvent<T = Record<string, unknown>> {
  /** `evt_…`, the same on every attempt of one delivery: use it to ignore repeats. */
  id: string;
  object: "event";
  /** The event type, such as `license.activated`. */
  type: string;
  /** When the event happened (Unix seconds). */
  created: number;
  data: { object: T };
}

/** Options of the verifiers. */
export interface VerifyOptions {
  /** How far the signed timestamp may be from now, in seconds. Default 300. */
  toleranceSeconds?: number;
  /** Now, in ms since the epoch (for tests). */
  now?: number;
}

type Payload = string | Uint8Array;
const encoder = new TextEncoder();

function bytes(payload: Payload): Uint8Array<ArrayBuffer> {
  return typeof payload === "string" ? encoder.encode(payload) : new Uint8Array(payload);
}

function concat(prefix: string, payload: Payload): Uint8Array<ArrayBuffer> {
  const head = encoder.encode(prefix);
  const body = bytes(payload);
  const message = new Uint8Array(head.length + body.length);
  message.set(head);
  message.set(body, head.length);
  return message;
}

function hmacKey(secret: Uint8Array<ArrayBuffer>): Promise<CryptoKey> {
  return crypto.subtle.importKey("raw", secret, { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
}

function fromHex(text: string): Uint8Array<ArrayBuffer> | undefined {
  if (text.length === 0 || text.length % 2 !== 0 || !/^[0-9a-fA-F]+$/.test(text)) return undefined;
  const result = new Uint8Array(text.length / 2);
  for (let i = 0; i < result.length; i += 1) result[i] = parseInt(text.slice(i * 2, i * 2 + 2), 16);
  return result;
}

function fromBase64(text: string): Uint8Array<ArrayBuffer> | undefined {
  try {
    const binary = atob(text);
    const result = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i += 1) result[i] = binary.charCodeAt(i);
    return result;
  } catch {
    return undefined;
  }
}

function checkTolerance(timestamp: number, options: VerifyOptions): void {
  const now = (options.now ?? Date.now()) / 1000;
  const tolerance = options.toleranceSeconds ?? 300;
  if (Math.abs(now - timestamp) > tolerance) {
    throw new WebhookVerificationError(
      "timestamp_out_of_tolerance",
      `The signed timestamp is more than ${tolerance} s from now (a replay?)`,
    );
  }
}

async function anyMatches(
  key: CryptoKey,
  signatures: Uint8Array<ArrayBuffer>[],
  message: Uint8Array<ArrayBuffer>,
): Promise<boolean> {
  for (const signature of signatures) {
    if (await crypto.subtle.verify("HMAC", key, signature, message)) return true;
  }
  return false;
}

/**
 * Verifies `X-Ecosire-Signature: t=<unix>,v1=<hex>[,v1=…]`: HMAC-SHA256 keyed with the endpoint's
 * whole `whsec_…` secret over `"<t>.<body>"`. Any `v1` may match (there are two while a rotated
 * secret overlaps the new one).
 */
export async function verifyEcosireSignature(
  payload: Payload,
  signatureHeader: string | null | undefined,
  secret: string,
  options: VerifyOptions = {},
): Promise<void> {
  if (!signatureHeader) throw new WebhookVerificationError("missing_header", "X-Ecosire-Signature is missing");
  let timestamp: number | undefined;
  const signatures: Uint8Array<ArrayBuffer>[] = [];
  for (const part of signatureHeader.split(",")) {
    const [name, value] = part.trim().split("=", 2);
    if (name === "t" && value !== undefined && /^\d+$/.test(value)) timestamp = Number(value);
    if (name === "v1" && value !== undefined) {
      const signature = fromHex(value);
      if (signature) signatures.push(signature);
    }
  }
  if (timestamp === undefined) {
    throw new WebhookVerificationError("malformed_header", "X-Ecosire-Signature has no t=<unix seconds>");
  }
  if (signatures.length === 0) {
    throw new WebhookVerificationError("malformed_header", "X-Ecosire-Signature has no v1=<hex> signature");
  }
  checkTolerance(timestamp, options);
  const key = await hmacKey(encoder.encode(secret));
  if (!(await anyMatches(key, signatures, concat(`${timestamp}.`, payload)))) {
    throw new WebhookVerificationError("no_matching_signature", "No v1 signature matches this payload and secret");
  }
}

/** The Standard Webhooks headers of a delivery (from a `Headers` or a plain object). */
export type StandardWebhookHeaders = Headers | Record<string, string | undefined>;

/**
 * Verifies a delivery by the Standard Webhooks scheme: `webhook-signature: v1,<base64>` (space
 * separated, any may match) over `"<webhook-id>.<webhook-timestamp>.<body>"`, keyed with the base64
 * part of the `whsec_…` secret.
 */
export async function verifyStandardWebhook(
  payload: Payload,
  headers: StandardWebhookHeaders,
  secret: string,
  options: VerifyOptions = {},
): Promise<void> {
  const header = (name: string) => headers instanceof Headers ? headers.get(name) ?? undefined : headers[name];
  const id = header("webhook-id");
  const timestamp = header("webhook-timestamp");
  const signature = header("webhook-signature");
  if (!id || !timestamp || !signature) {
    throw new WebhookVerificationError(
      "missing_header",
      "webhook-id, webhook-timestamp and webhook-signature are all required",
    );
  }
  if (!/^\d+$/.test(timestamp)) {
    throw new WebhookVerificationError("malformed_header", "webhook-timestamp is not Unix seconds");
  }
  checkTolerance(Number(timestamp), options);
  const keyBytes = fromBase64(secret.startsWith("whsec_") ? secret.slice(6) : secret);
  if (!keyBytes) throw new WebhookVerificationError("malformed_header", "The secret is not whsec_<base64>");
  const signatures = signature.split(" ")
    .map((entry) => entry.split(",", 2))
    .filter(([version, value]) => version === "v1" && value !== undefined)
    .map(([, value]) => fromBase64(value ?? ""))
    .filter((value): value is Uint8Array<ArrayBuffer> => value !== undefined);
  if (signatures.length === 0) {
    throw new WebhookVerificationError("malformed_header", "webhook-signature has no v1,<base64> signature");
  }
  if (!(await anyMatches(await hmacKey(keyBytes), signatures, concat(`${id}.${timestamp}.`, payload)))) {
    throw new WebhookVerificationError("no_matching_signature", "No v1 signature matches this payload and secret");
  }
}

/**
 * Verifies `X-License-Signature: <hex>` of a `license.*` delivery: HMAC-SHA256 of the body with the
 * server's `ECOSIRE_LICENSE_SECRET` (the secret shared with your licensed software).
 */
export async function verifyLicenseSignature(
  payload: Payload,
  signatureHeader: string | null | undefined,
  licenseSecret: string,
): Promise<void> {
  if (!signatureHeader) throw new WebhookVerificationError("missing_header", "X-License-Signature is missing");
  const signature = fromHex(signatureHeader.trim());
  if (!signature) throw new WebhookVerificationError("malformed_header", "X-License-Signature is not hex");
  if (!(await anyMatches(await hmacKey(encoder.encode(licenseSecret)), [signature], bytes(payload)))) {
    throw new WebhookVerificationError(
      "no_matching_signature",
      "X-License-Signature does not match this payload and secret",
    );
  }
}

/** Verifies `X-Ecosire-Signature` and parses the event. */
export async function constructEvent<T = Record<string, unknown>>(
  payload: Payload,
  signatureHeader: string | null | undefined,
  secret: string,
  options: VerifyOptions = {},
): Promise<WebhookEvent<T>> {
  await verifyEcosireSignature(payload, signatureHeader, secret, options);
  const text = typeof payload === "string" ? payload : new TextDecoder().decode(payload);
  return JSON.parse(text) as WebhookEvent<T>;
}
