import type { ClientOptions } from "./http.ts";
import { HttpCore } from "./http.ts";
import { AuthApi, Namespaces } from "./generated/api.ts";
import type { Session } from "./generated/schema.ts";

/** Sign-in and sessions, beside the generated Auth operations. */
export class Auth extends AuthApi {
  /**
   * Signs in with email and password. Later calls of this client carry the access token (instead
   * of the API key) and refresh it when it expires.
   *
   * `POST /api/auth/login`
   */
  async login(credentials: { email: string; password: string }): Promise<Session> {
    const session = await this.http.request<Session>({
      operationId: "login",
      method: "POST",
      path: "/api/auth/login",
      body: { email: credentials.email, password: credentials.password },
      public: true,
    });
    this.http.storeSession(session);
    return session;
  }

  /**
   * Exchanges the session's refresh token for new tokens now (the client also does this by itself
   * when a request meets an expired token).
   *
   * `POST /api/auth/refresh`
   */
  async refresh(): Promise<Session> {
    const session = await this.http.request<Session>({
      operationId: "refreshToken",
      method: "POST",
      path: "/api/auth/refresh",
      body: { refreshToken: this.http.session?.refreshToken },
      public: true,
    });
    this.http.storeSession(session);
    return session;
  }

  /**
   * Revokes the session's refresh token and forgets the session (the API key, if any, applies again).
   *
   * `POST /api/auth/logout`
   */
  async logout(): Promise<void> {
    const refreshToken = this.http.session?.refreshToken;
    try {
      await this.http.request<void>({
        operationId: "logout",
        method: "POST",
        path: "/api/auth/logout",
        body: { refreshToken },
        response: "none",
        public: true,
      });
    } finally {
      this.http.storeSession(undefined);
    }
  }
}

/**
 * The Ecosire API client.
 *
 * ```ts
 * const client = new EcosireClient({ baseUrl: "https://api.example.com", apiKey: "ecos_live_…" });
 * const contacts = await client.contacts.list({ limit: 50 });
 * ```
 *
 * Every module of the API is a namespace (`client.contacts`, `client.apiKeys`, `client.licenses`…)
 * generated from the API document. Every call authenticates (the session's token after
 * `client.auth.login`, else the API key), retries safely (429, and 5xx or connection failures when
 * repeating is safe, honouring `Retry-After`), and rejects with `EcosireError`.
 */
export class EcosireClient extends Namespaces {
  /** Sign-in and sessions, and the other Auth operations. */
  override readonly auth: Auth;
  private readonly http: HttpCore;

  constructor(options: ClientOptions) {
    const http = new HttpCore(options);
    super(http);
    this.http = http;
    this.auth = new Auth(http);
  }

  /** The session of the last `auth.login` or refresh, if any. */
  get session(): Session | undefined {
    return this.http.session;
  }
}
