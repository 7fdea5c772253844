import type { Context } from 'koa';
import { z } from 'zod';
import type { Container } from '../../container.js';
import { AppError } from '../../errors/app-error.js';
import type { Csrf } from '../../http/csrf.js';
import { readForm } from '../../http/form-body.js';
import type { Renderer } from '../../http/render.js';
import { tr } from '../../interactions/page-context.js';
import type { ProviderHost } from '../../oidc/provider.js';

export interface ConsoleDeps { container: Container; host: ProviderHost; csrf: Csrf; render: Renderer }

/** Which part of the console a page belongs to: the navigation marks it as current. */
export type Section = 'overview' | 'clients' | 'accounts' | 'roles' | 'apis' | 'api-keys' | 'keys' | 'audit';

/** What a redirect after a successful POST may announce (`?done=`), each a catalogue entry. */
const notices = ['created', 'saved', 'deleted', 'rotated', 'revoked', 'action_done', 'roles_saved'] as const;

const onceCookie = 'pcl.admin-once';
const onceValue = z.object({ accountId: z.string(), path: z.string(), value: z.string() });

/** Shared pieces of the console pages: rendering in the layout, form reading with CSRF, 303s, one-time secrets. */
export function consoleKit({ container, csrf, render }: ConsoleDeps) {
  const secure = container.config.issuer.startsWith('https://');

  /** A successful POST: 303 See Other, so reloading the next page never posts again. */
  function seeOther(ctx: Context, location: string, done?: (typeof notices)[number]): void {
    ctx.status = 303;
    ctx.redirect(done ? `${location}${location.includes('?') ? '&' : '?'}done=${done}` : location);
  }

  return {
    seeOther,

    /** Renders views/admin/<view>.ejs; a `?done=` notice from the redirect that led here is shown once. */
    page(ctx: Context, section: Section, view: string, titleKey: string, locals: Record<string, unknown> = {}, status = 200) {
      const done = typeof ctx.query.done === 'string' && (notices as readonly string[]).includes(ctx.query.done) ? ctx.query.done : undefined;
      return render(ctx, `admin/${view}`, {
        title: tr(ctx, titleKey), section, currentPath: ctx.path, admin: ctx.state.account, when, breakable,
        notice: done && status === 200 ? tr(ctx, `pages.admin.done_${done}`) : undefined, ...locals,
      }, status);
    },

    /** The posted form, once its CSRF token checks out. */
    async postedForm(ctx: Context): Promise<Record<string, string>> {
      const form = await readForm(ctx);
      csrf.verify(ctx, form.csrf);
      return form;
    },

    /** How the audit trail names the admin acting through the console. */
    actor: (ctx: Context) => `admin:${ctx.state.account.id as string}`,

    /**
     * Keeps a fresh secret for the next GET of `path` only: sealed in a short-lived cookie, never in
     * a URL, never stored in clear; reading it clears it, so it is shown once.
     */
    async showOnce(ctx: Context, path: string, value: string): Promise<void> {
      const sealed = await container.secretBox.seal(JSON.stringify({ accountId: ctx.state.account.id, path, value }));
      ctx.cookies.set(onceCookie, sealed, { httpOnly: true, sameSite: 'strict', secure, maxAge: 300_000, path: '/admin', signed: false });
      seeOther(ctx, path);
    },

    /** The secret kept for this page by showOnce, if any; taken out for good. */
    async takeOnce(ctx: Context): Promise<string | undefined> {
      const sealed = ctx.cookies.get(onceCookie);
      if (!sealed) return undefined;
      ctx.cookies.set(onceCookie, null, { path: '/admin' });
      const opened = await container.secretBox.open(sealed).then((text) => onceValue.safeParse(JSON.parse(text)), () => undefined);
      return opened?.success && opened.data.accountId === ctx.state.account.id && opened.data.path === ctx.path ? opened.data.value : undefined;
    },
  };
}

export type ConsoleKit = ReturnType<typeof consoleKit>;

/** A route parameter that must match `schema`, else a 404 (a malformed id names nothing). */
export function param<T>(ctx: Context, name: string, schema: z.ZodType<T>): T {
  const parsed = schema.safeParse(ctx.params[name]);
  if (!parsed.success) throw new AppError('not_found', 404, tr(ctx, 'pages.admin.not_found'));
  return parsed.data;
}

/** One entry per non-empty line of a textarea. */
export function lines(text: string | undefined): string[] {
  return (text ?? '').split(/\r?\n/).map((line) => line.trim()).filter(Boolean);
}

/** The error's message when it is an exposed client error (a service refusing input), else rethrows. */
export function refusal(error: unknown): AppError {
  if (error instanceof AppError && error.expose && error.status < 500) return error;
  throw error;
}

/**
 * Service refusals the console can meet whose codes have a message in the catalogue
 * (`pages.admin.errors.<code>`); the services speak English, the pages the person's language.
 */
export const cataloguedRefusals: ReadonlySet<string> = new Set([
  'invalid_name', 'invalid_redirect_uri', 'invalid_backchannel_logout_uri', 'invalid_ttl', 'invalid_client_settings', 'client_has_no_secret',
  'client_not_found', 'account_not_found', 'invalid_email', 'email_ambiguous', 'email_control_characters',
  'invalid_password', 'email_taken', 'unknown_role',
  'invalid_role_name', 'role_exists', 'invalid_description', 'unknown_api', 'unknown_permission',
  'invalid_api', 'api_exists', 'api_in_use', 'api_read_only',
  'invalid_scope', 'invalid_expiry', 'invalid_owner', 'api_key_revoked', 'invalid_cursor',
]);

/** A refusal's message in the page's language: the catalogue's for a known code, else the service's own words. Rethrows what is no refusal. */
export function refusalText(ctx: Context, error: unknown): string {
  const refused = refusal(error);
  return cataloguedRefusals.has(refused.code) ? tr(ctx, `pages.admin.errors.${refused.code}`) : refused.message;
}

/** Dates as the pages show them: UTC, to the minute. */
export function when(date: Date | null | undefined): string {
  return date ? `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC` : '';
}

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * HTML for a long unbroken value (ids, secrets, URIs): escaped, with a line-break opportunity
 * (<wbr>) every 8 characters, so it stays inside a phone-sized card and copies unchanged.
 */
export function breakable(value: string): string {
  return (value.match(/.{1,8}/gsu) ?? []).map(escapeHtml).join('<wbr>');
}
