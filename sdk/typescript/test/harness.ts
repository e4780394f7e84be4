// Shared set-up of the SDK tests: a fresh account on the live server named by ECOSIRE_BASE_URL
// (scripts/sdk_checks.py starts it), with an API key and a licensed product.
import { EcosireClient } from "@ecosire/sdk";

export const baseUrl = Deno.env.get("ECOSIRE_BASE_URL") ?? "http://127.0.0.1:8080/api";

/** A new organization's owner: credentials, an admin API key and a client using it. */
export interface Account {
  email: string;
  password: string;
  apiKey: string;
  owner: EcosireClient;
}

export async function newAccount(): Promise<Account> {
  const email = `owner-${crypto.randomUUID()}@example.com`;
  const password = "correct horse battery staple";
  const owner = new EcosireClient({ baseUrl });
  const session = await owner.auth.register({ email, password, name: "SDK Owner", organizationName: "SDK Tests" });
  // Access tokens live 3 s on the test server; the owner's helpers use an admin API key instead.
  const signedIn = new EcosireClient({ baseUrl, accessToken: session.token });
  const created = await signedIn.apiKeys.create({ name: "sdk tests", scope: "admin" });
  return {
    email,
    password,
    apiKey: created.api_key.key,
    owner: new EcosireClient({ baseUrl, apiKey: created.api_key.key }),
  };
}

/** A license key of a licensed product, granted by `owner`. */
export async function newLicenseKey(owner: EcosireClient, activationsLimit = 3): Promise<string> {
  const product = await owner.products.create({
    name: "Odoo CRM Connector",
    sku: `SKU-${crypto.randomUUID().slice(0, 8)}`,
    price: 24_900,
    type: "digital",
    licensePolicy: { prefix: "SHOP", activationsLimit, durationDays: 365, updatesMonths: 12 },
  });
  const license = await owner.licenses.grant({ productId: product.id });
  return license.key;
}

/** A local HTTP server; `handle` may be swapped while it runs. */
export class Receiver {
  handle: (request: Request) => Response | Promise<Response> = () => new Response(null, { status: 404 });
  readonly statuses: number[] = [];
  private readonly server: Deno.HttpServer<Deno.NetAddr>;

  constructor() {
    this.server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
      const response = await this.handle(request);
      this.statuses.push(response.status);
      return response;
    });
  }

  get url(): string {
    return `http://127.0.0.1:${this.server.addr.port}`;
  }

  async close(): Promise<void> {
    await this.server.shutdown();
  }
}

/** Waits until `condition` holds (up to 10 s). */
export async function eventually(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200; i += 1) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}
