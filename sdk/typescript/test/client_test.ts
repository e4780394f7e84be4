// The client's behaviour against a live server: retries, typed errors, pagination, sessions and
// the webhook verifiers on real deliveries.
import { assert, assertEquals } from "./assert.ts";
import { baseUrl, eventually, newAccount, newLicenseKey, Receiver } from "./harness.ts";
import {
  EcosireClient,
  EcosireError,
  verifyEcosireSignature,
  verifyLicenseSignature,
  verifyStandardWebhook,
  WebhookVerificationError,
} from "@ecosire/sdk";

/** `fetch` that records the status of every answer (0 for a failed connection). */
function recordingFetch(statuses: number[]): typeof fetch {
  return async (input, init) => {
    try {
      const response = await fetch(input, init);
      statuses.push(response.status);
      return response;
    } catch (error) {
      statuses.push(0);
      throw error;
    }
  };
}

Deno.test("a 429 is retried after Retry-After and then succeeds", async () => {
  const { owner } = await newAccount();
  const licenseKey = await newLicenseKey(owner);
  const statuses: number[] = [];
  const client = new EcosireClient({ baseUrl, fetch: recordingFetch(statuses) });
  // The server runs with RATE_LIMIT_LICENSE_VALIDATE=3 per 2-second window.
  // Seven calls exceed two windows' worth, wherever the window boundary falls.
  for (let i = 0; i < 7; i += 1) {
    const validation = await client.licenses.validate({ key: licenseKey, domain: "shop.example.com" });
    assertEquals(validation.valid, true);
  }
  assert(statuses.includes(429), `expected a 429 among ${statuses}`);
  assertEquals(statuses.filter((status) => status === 200).length, 7);

  // With retries off, the same limit surfaces as a typed error with its Retry-After.
  const impatient = new EcosireClient({ baseUrl, retry: { maxRetries: 0 } });
  let limited: unknown;
  for (let i = 0; i < 7 && limited === undefined; i += 1) {
    await impatient.licenses.validate({ key: licenseKey, domain: "shop.example.com" }).catch((error: unknown) => {
      limited = error;
    });
  }
  assert(limited instanceof EcosireError);
  assertEquals([limited.status, limited.code], [429, "RATE_LIMITED"]);
  assert(limited.retryAfter !== undefined && limited.retryAfter >= 1 && limited.retryAfter <= 2);
});

Deno.test("a 422 is a typed error with field details", async () => {
  const { apiKey } = await newAccount();
  const client = new EcosireClient({ baseUrl, apiKey });
  const error = await client.apiKeys.create({ name: "x".repeat(300), expires_at: "next tuesday" })
    .catch((error: unknown) => error);
  assert(error instanceof EcosireError);
  assertEquals([error.status, error.code], [422, "VALIDATION_FAILED"]);
  assertEquals(error.details.map((issue) => issue.field).sort(), ["expires_at", "name"]);
  assert(error.details.every((issue) => issue.message.length > 0));
  assertEquals(error.problem["success"], false);

  const missing = await client.contacts.get("0190a000-0000-7000-8000-000000000000").catch((error: unknown) => error);
  assert(missing instanceof EcosireError);
  assertEquals([missing.status, missing.code], [404, "NOT_FOUND"]);
});

Deno.test("pagination visits every record exactly once", async () => {
  const { apiKey } = await newAccount();
  const client = new EcosireClient({ baseUrl, apiKey });
  const created = new Set<string>();
  for (let i = 0; i < 45; i += 1) created.add((await client.contacts.create({ name: `Contact ${i % 7}` })).id);
  // Default sort (createdAt desc, ties by id) and a name sort with many ties, 10 per page.
  for (const query of [{ limit: 10 }, { limit: 10, sortBy: "name" as const, sortOrder: "asc" as const }]) {
    const seen: string[] = [];
    for await (const contact of client.contacts.listAll(query)) seen.push(contact.id);
    assertEquals(seen.length, 45);
    assertEquals(new Set(seen).size, 45);
    assert(seen.every((id) => created.has(id)));
  }
});

Deno.test("a lost answer to a POST is retried with the same Idempotency-Key and runs once", async () => {
  const { apiKey } = await newAccount();
  // A proxy in front of the server that forwards the first attempt of each request but answers
  // 502, as if the connection broke after the server did the work.
  const keys: string[] = [];
  const proxy = new Receiver();
  proxy.handle = async (request) => {
    const key = request.headers.get("Idempotency-Key") ?? "";
    const target = new URL(request.url);
    const upstream = new URL(baseUrl);
    target.protocol = upstream.protocol;
    target.host = upstream.host;
    const forwarded = await fetch(target, {
      method: request.method,
      headers: request.headers,
      body: await request.text(),
    });
    const first = request.method === "POST" && !keys.includes(key);
    keys.push(key);
    if (first) {
      await forwarded.body?.cancel();
      return new Response("upstream reset", { status: 502 });
    }
    return forwarded;
  };
  try {
    const client = new EcosireClient({ baseUrl: proxy.url, apiKey, retry: { baseDelayMs: 10 } });
    const contact = await client.contacts.create({ name: "Exactly Once" });
    assertEquals(keys.length, 2);
    assertEquals(keys[0], keys[1]);
    assert(keys[0] !== undefined && keys[0].length > 0);
    const direct = new EcosireClient({ baseUrl, apiKey });
    const found = await direct.contacts.list({ search: "Exactly Once" });
    assertEquals(found.data.map((c) => c.id), [contact.id]);
  } finally {
    await proxy.close();
  }
});

Deno.test("connection failures are retried with backoff, then surface as NETWORK_ERROR", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  const statuses: number[] = [];
  const client = new EcosireClient({
    baseUrl: `http://127.0.0.1:${port}`,
    fetch: recordingFetch(statuses),
    retry: { maxRetries: 2, baseDelayMs: 5 },
  });
  const error = await client.operations.getHealth().catch((error: unknown) => error);
  assert(error instanceof EcosireError);
  assertEquals([error.status, error.code], [0, "NETWORK_ERROR"]);
  assertEquals(statuses, [0, 0, 0]);
});

Deno.test("an expired access token is refreshed once and the call succeeds", async () => {
  const { email, password } = await newAccount();
  const client = new EcosireClient({ baseUrl });
  const first = await client.auth.login({ email, password });
  // The server runs with ACCESS_TOKEN_TTL=3.
  await new Promise((resolve) => setTimeout(resolve, 4100));
  const [a, b] = await Promise.all([client.contacts.list(), client.users.getCurrentUser()]);
  assertEquals(a.meta.page, 1);
  assertEquals(b.email, email);
  assert(client.session !== undefined && client.session.token !== first.token);
  await client.auth.logout();
  assertEquals(client.session, undefined);
  const signedOut = await client.contacts.list().catch((error: unknown) => error);
  assert(signedOut instanceof EcosireError);
  assertEquals(signedOut.status, 401);
});

Deno.test("the verifiers accept real deliveries and refuse altered ones", async () => {
  const { apiKey, owner } = await newAccount();
  const licenseSecret = Deno.env.get("ECOSIRE_LICENSE_SECRET") ?? "";
  const client = new EcosireClient({ baseUrl, apiKey });
  const receiver = new Receiver();
  const deliveries: { headers: Headers; body: string }[] = [];
  receiver.handle = async (request) => {
    deliveries.push({ headers: request.headers, body: await request.text() });
    return new Response(null, { status: 204 });
  };
  try {
    const endpoint = await client.webhooks.createEndpoint({
      url: `${receiver.url}/hooks`,
      events: ["license.activated"],
    });
    const licenseKey = await newLicenseKey(owner);
    await client.licenses.activate({ key: licenseKey, domain: "shop.example.com" });
    await eventually(() => deliveries.length > 0, "the license.activated delivery");
    const delivery = deliveries[0];
    assert(delivery !== undefined);
    await verifyEcosireSignature(delivery.body, delivery.headers.get("X-Ecosire-Signature"), endpoint.secret);
    await verifyStandardWebhook(delivery.body, delivery.headers, endpoint.secret);
    await verifyLicenseSignature(delivery.body, delivery.headers.get("X-License-Signature"), licenseSecret);

    const altered = delivery.body.replace("shop.example.com", "evil.example.com");
    const failures = await Promise.all([
      verifyEcosireSignature(altered, delivery.headers.get("X-Ecosire-Signature"), endpoint.secret),
      verifyStandardWebhook(altered, delivery.headers, endpoint.secret),
      verifyLicenseSignature(altered, delivery.headers.get("X-License-Signature"), licenseSecret),
      verifyEcosireSignature(delivery.body, delivery.headers.get("X-Ecosire-Signature"), endpoint.secret, {
        now: Date.now() + 301_000,
      }),
      verifyEcosireSignature(delivery.body, null, endpoint.secret),
    ].map((promise) => promise.then(() => "verified", (error: unknown) => error)));
    assertEquals(
      failures.map((failure) => failure instanceof WebhookVerificationError ? failure.reason : String(failure)),
      [
        "no_matching_signature",
        "no_matching_signature",
        "no_matching_signature",
        "timestamp_out_of_tolerance",
        "missing_header",
      ],
    );
  } finally {
    await receiver.close();
  }
});

Deno.test("answers that are not JSON come back as text or bytes", async () => {
  const client = new EcosireClient({ baseUrl });
  const yaml = await client.docs.getOpenAPIYAML();
  assert(yaml.includes("\nopenapi: 3.0.3\n"), yaml.slice(0, 80));
  const metrics = await client.operations.getMetrics();
  assert(metrics.includes("# TYPE"), metrics.slice(0, 80));
});
