/**
 * A minimal cookie-keeping user agent over fetch: enough to walk the hosted pages the way a
 * browser would (redirects by hand, cookies scoped by path), without a browser.
 */
interface StoredCookie { name: string; value: string; path: string }

export interface PageResponse { status: number; url: URL; location?: URL; html: string; headers: Headers }

export class BrowserAgent {
  private cookies = new Map<string, StoredCookie>();

  cookieHeader(url: URL): string {
    return [...this.cookies.values()].filter((c) => url.pathname.startsWith(c.path)).map((c) => `${c.name}=${c.value}`).join('; ');
  }

  cookieNames(): string[] {
    return [...this.cookies.values()].map((c) => c.name);
  }

  private store(headers: Headers): void {
    for (const line of headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';').map((part) => part.trim());
      const index = pair!.indexOf('=');
      const name = pair!.slice(0, index);
      const value = pair!.slice(index + 1);
      const path = attributes.find((a) => a.toLowerCase().startsWith('path='))?.slice(5) || '/';
      const expired = attributes.some((a) => /^expires=/i.test(a) && new Date(a.slice(8)).getTime() < Date.now()) || attributes.some((a) => /^max-age=0$/i.test(a));
      const key = `${name};${path}`;
      if (expired || value === '') this.cookies.delete(key);
      else this.cookies.set(key, { name, value, path });
    }
  }

  async request(input: string | URL, init: { method?: string; form?: Record<string, string>; headers?: Record<string, string> } = {}): Promise<PageResponse> {
    const url = new URL(input);
    const headers: Record<string, string> = { accept: 'text/html', ...init.headers };
    const cookie = this.cookieHeader(url);
    if (cookie) headers.cookie = cookie;
    let body: string | undefined;
    if (init.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(init.form).toString();
    }
    const response = await fetch(url, { method: init.method ?? (body ? 'POST' : 'GET'), headers, body, redirect: 'manual' });
    this.store(response.headers);
    const location = response.headers.get('location');
    return { status: response.status, url, location: location ? new URL(location, url) : undefined, html: await response.text(), headers: response.headers };
  }

  /** Follows redirects until one leaves for `stopAt` (returned) or a page is served (returned). */
  async follow(input: string | URL, stopAt?: string): Promise<PageResponse> {
    let response = await this.request(input);
    for (let hops = 0; response.location && hops < 20; hops++) {
      if (stopAt && response.location.href.startsWith(stopAt)) return response;
      response = await this.request(response.location);
    }
    return response;
  }
}

/** The value of a named hidden input on a page. */
export function formValue(html: string, name: string): string | undefined {
  return new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1];
}

/** The action of the first form on a page whose action contains `fragment`. */
export function formAction(html: string, fragment: string): string | undefined {
  return [...html.matchAll(/<form[^>]*action="([^"]+)"/g)].map((m) => m[1]!).find((action) => action.includes(fragment));
}

/**
 * Signs in through the hosted login page and approves consent when asked; returns the
 * redirect to the relying party's callback.
 */
export async function signIn(agent: BrowserAgent, authorizationUrl: URL, redirectUri: string, credentials: { email: string; password: string }): Promise<URL> {
  let response = await agent.follow(authorizationUrl, redirectUri);
  for (let steps = 0; steps < 5; steps++) {
    if (response.location?.href.startsWith(redirectUri)) return response.location;
    const page = response.url;
    const login = formAction(response.html, '/login');
    const confirm = formAction(response.html, '/confirm');
    const csrf = formValue(response.html, 'csrf') ?? '';
    if (login) {
      response = await agent.request(new URL(login, page), { form: { csrf, ...credentials } });
    } else if (confirm) {
      response = await agent.request(new URL(confirm, page), { form: { csrf } });
    } else {
      throw new Error(`unexpected page (${response.status}) at ${page.href}: ${response.html.slice(0, 500)}`);
    }
    if (response.status !== 303 || !response.location) throw new Error(`form POST answered ${response.status}: ${response.html.slice(0, 500)}`);
    response = await agent.follow(response.location, redirectUri);
  }
  throw new Error('sign-in did not finish');
}
