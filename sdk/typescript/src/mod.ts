/**
 * `@ecosire/sdk`: the Ecosire API client for TypeScript and JavaScript (Node 18+, Deno, Bun,
 * browsers). No runtime dependencies: standard `fetch` and WebCrypto.
 *
 * @module
 */
export { Auth, EcosireClient } from "./client.ts";
export type { ClientOptions, RequestOptions, RetryPolicy } from "./http.ts";
export { EcosireError, type FieldIssue } from "./errors.ts";
export { type Page, paginate } from "./pagination.ts";
export {
  constructEvent,
  type StandardWebhookHeaders,
  verifyEcosireSignature,
  verifyLicenseSignature,
  type VerifyOptions,
  verifyStandardWebhook,
  type WebhookEvent,
  type WebhookFailure,
  WebhookVerificationError,
} from "./webhooks.ts";
export type * from "./generated/schema.ts";
export * from "./generated/api.ts";
