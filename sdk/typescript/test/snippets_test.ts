// The six common operations of the README and the portal. The code between `// snippet:NAME` and
// `// end-snippet` is copied verbatim into the documentation by scripts/snippets.py, so every
// snippet a reader sees has run here against a live server, and its results are asserted below it.
import { assert, assertEquals, assertMatch } from "./assert.ts";
import { baseUrl, eventually, newAccount, newLicenseKey, Receiver } from "./harness.ts";
import { constructEvent, EcosireClient, EcosireError, WebhookVerificationError } from "@ecosire/sdk";

Deno.test("authenticate", async () => {
  const { email, password, apiKey } = await newAccount();
  // snippet:authenticate
  const client = new EcosireClient({ baseUrl, apiKey });

  // Login with credentials
  const session = await client.auth.login({ email, password });
  console.log(session.token); // JWT token
  console.log(session.user); // { id, email, name, role }

  // All subsequent calls auto-attach the token
  const contacts = await client.contacts.list();
  // end-snippet
  assertMatch(session.token, /^ey[\w-]+\.[\w-]+\.[\w-]+$/);
  assertEquals(session.user.email, email);
  assertEquals(session.user.role, "owner");
  assertEquals(contacts.meta.total, 0);
  assertEquals(client.session?.token, session.token);
});

Deno.test("list contacts with paging", async () => {
  const { apiKey } = await newAccount();
  const client = new EcosireClient({ baseUrl, apiKey });
  for (const name of ["Ada", "Grace", "Alan", "Edsger", "Barbara"]) await client.contacts.create({ name });
  // snippet:list-contacts
  // One page at a time…
  const page = await client.contacts.list({ page: 1, limit: 2, sortBy: "name", sortOrder: "asc" });
  console.log(page.data.map((contact) => contact.name), `${page.meta.total} in ${page.meta.totalPages} pages`);

  // …or every contact, the pages fetched as the loop needs them.
  const names: string[] = [];
  for await (const contact of client.contacts.listAll({ limit: 2, sortBy: "name", sortOrder: "asc" })) {
    names.push(contact.name);
  }
  // end-snippet
  assertEquals(page.data.map((contact) => contact.name), ["Ada", "Alan"]);
  assertEquals([page.meta.total, page.meta.totalPages], [5, 3]);
  assertEquals(names, ["Ada", "Alan", "Barbara", "Edsger", "Grace"]);
});

Deno.test("create an API key", async () => {
  const { apiKey } = await newAccount();
  const client = new EcosireClient({ baseUrl, apiKey });
  // snippet:create-api-key
  const { api_key } = await client.apiKeys.create({
    name: "Reporting (read only)",
    scope: "read_only",
    expires_at: new Date(Date.now() + 90 * 24 * 3600 * 1000).toISOString(),
  });
  console.log(api_key.key); // ecos_live_…: shown only now, so store it in your secret manager
  console.log(api_key.prefix, api_key.scope, api_key.expires_at);

  const reporting = new EcosireClient({ baseUrl, apiKey: api_key.key });
  const firstPage = await reporting.contacts.list({ limit: 10 });
  // end-snippet
  assertMatch(api_key.key, /^ecos_live_[0-9A-Za-z]{32}$/);
  assertEquals(api_key.prefix, api_key.key.slice(0, 12));
  assertEquals(firstPage.meta.page, 1);
  // The key is read-only: a write is refused with a typed error.
  const refused = await reporting.contacts.create({ name: "Nope" }).catch((error: unknown) => error);
  assert(refused instanceof EcosireError);
  assertEquals(refused.status, 403);
});

Deno.test("validate and activate a license", async () => {
  const { apiKey } = await newAccount();
  const licenseKey = await newLicenseKey(new EcosireClient({ baseUrl, apiKey }));
  // snippet:license
  // From the licensed software: these calls need no credentials.
  const client = new EcosireClient({ baseUrl });
  const validation = await client.licenses.validate({ key: licenseKey, domain: "shop.example.com" });
  if (validation.valid && !validation.activated) {
    const activation = await client.licenses.activate({ key: licenseKey, domain: "shop.example.com" });
    console.log(`activated ${activation.activationsCount} of ${activation.activationsLimit}`);
  }
  // end-snippet
  assertEquals(validation.valid, true);
  assertEquals(validation.activated, false);
  const after = await client.licenses.validate({ key: licenseKey, domain: "shop.example.com" });
  assertEquals([after.activated, after.activationsCount], [true, 1]);
});

Deno.test("create and verify a webhook endpoint", async () => {
  const { apiKey } = await newAccount();
  const client = new EcosireClient({ baseUrl, apiKey });
  const receiver = new Receiver();
  const publicUrl = receiver.url;
  const seen: string[] = [];
  try {
    // Serves from the start; handleWebhook (declared in the snippet) exists before any delivery.
    receiver.handle = async (request) => {
      const response = await handleWebhook(request);
      seen.push(`${response.status}`);
      return response;
    };
    // snippet:webhooks
    // Register your endpoint; its signing secret is shown only in this answer.
    const endpoint = await client.webhooks.createEndpoint({
      url: `${publicUrl}/hooks/ecosire`,
      events: ["contact.created", "license.activated"],
    });
    const secret = endpoint.secret; // whsec_…

    // In your HTTP handler: verify the raw body before trusting it.
    const handleWebhook = async (request: Request): Promise<Response> => {
      const body = await request.text();
      try {
        const event = await constructEvent(body, request.headers.get("X-Ecosire-Signature"), secret);
        console.log(event.id, event.type, event.data.object);
        return new Response(null, { status: 204 });
      } catch (error) {
        if (error instanceof WebhookVerificationError) return new Response(error.reason, { status: 400 });
        throw error;
      }
    };

    // Send yourself a signed example event.
    await client.webhooks.sendTest(endpoint.id, { type: "contact.created" });
    // end-snippet
    await eventually(() => seen.length > 0, "the test delivery");
    assertEquals(seen, ["204"]);
    // A body changed in transit fails verification.
    const tampered = await constructEvent('{"id":"evt_forged"}', `t=${Math.floor(Date.now() / 1000)},v1=00`, secret)
      .catch((error: unknown) => error);
    assert(tampered instanceof WebhookVerificationError);
    assertEquals(tampered.reason, "no_matching_signature");
  } finally {
    await receiver.close();
  }
});

Deno.test("handle errors and rate limits", async () => {
  const { apiKey } = await newAccount();
  // snippet:errors
  // Rate limits: a 429 is retried after its Retry-After, as are 5xx answers and network failures
  // when repeating is safe (POSTs carry an Idempotency-Key for that). Tune or turn off per client:
  const client = new EcosireClient({ baseUrl, apiKey, retry: { maxRetries: 5, maxRetryAfterSeconds: 60 } });

  // Every failure is an EcosireError with the problem details.
  const error = await client.contacts.create({ name: "", email: "not-an-email" }).catch((error: unknown) => error);
  if (error instanceof EcosireError) {
    console.log(error.status, error.code); // 422 VALIDATION_FAILED
    for (const issue of error.details) console.log(`${issue.field}: ${issue.message}`);
    console.log(error.requestId); // quote it when asking for support
  }
  // end-snippet
  assert(error instanceof EcosireError);
  assertEquals([error.status, error.code], [422, "VALIDATION_FAILED"]);
  assertEquals(error.details.map((issue) => issue.field).sort(), ["email", "name"]);
  assert(error.requestId !== undefined && error.requestId.length > 0);
});
