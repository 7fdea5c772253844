import type { KoaContextWithOIDC } from 'oidc-provider';
import type { ResolvedConfig } from '../config/schema.js';
import type { Renderer } from '../http/render.js';
import { translator } from '../i18n/i18n.js';

/** Why the code input page is shown again (oidc-provider's error names for the device flow). */
function inputError(error: { name?: string; userCode?: string } | undefined): string | undefined {
  if (!error) return undefined;
  if (error.userCode || error.name === 'NoCodeError' || error.name === 'NotFoundError' || error.name === 'ExpiredError' || error.name === 'AlreadyUsedError') return 'pages.device.code_invalid';
  if (error.name === 'AbortedError') return 'pages.device.aborted';
  return 'pages.device.failed';
}

interface NewSession { id: string; exp?: number; touched?: boolean; save(ttl: number): Promise<unknown> }

/**
 * oidc-provider's error handler for the device pages gives a never-saved Session a fresh xsrf
 * secret after its session middleware has finished, and then `persist()` throws on it (no `exp`):
 * an unknown /device/:uid or a bad POST /device became a 500. Saving it here, as the session
 * middleware would have, keeps the form usable and the answer a 400.
 * @see node_modules/oidc-provider/lib/shared/error_handler.js (generateXsrf after the session middleware)
 */
async function saveNewSession(ctx: KoaContextWithOIDC, config: ResolvedConfig): Promise<void> {
  const session = ctx.oidc?.session as unknown as NewSession | undefined;
  if (!session?.touched || typeof session.exp === 'number') return;
  const secure = config.issuer.startsWith('https://');
  const options = { httpOnly: true, sameSite: 'lax' as const, secure, signed: true };
  ctx.oidc.cookies.set(ctx.oidc.provider.cookieName('session'), session.id, options);
  await session.save(config.ttl.session);
}

/**
 * The hosted pages of the device authorization grant (RFC 8628 §3.3). oidc-provider hands each
 * page its form with the CSRF field (`xsrf`) already in it; our buttons submit that form.
 */
export function deviceFlowPages(config: ResolvedConfig, render: Renderer) {
  const t = (ctx: KoaContextWithOIDC) => translator(ctx.state.locale ?? config.branding.defaultLocale);
  return {
    async userCodeInputSource(ctx: KoaContextWithOIDC, form: string, _out?: unknown, error?: unknown) {
      const message = inputError(error as { name?: string; userCode?: string } | undefined);
      if (error) await saveNewSession(ctx, config);
      await render(ctx, 'interaction/device-input', {
        title: t(ctx)('pages.device.title'), form, formError: message ? t(ctx)(message) : undefined,
      }, message ? 400 : 200);
    },
    async userCodeConfirmSource(ctx: KoaContextWithOIDC, form: string, client: { clientName?: string; clientId: string }, _deviceInfo: unknown, userCode: string) {
      await render(ctx, 'interaction/device-confirm', {
        title: t(ctx)('pages.device.confirm_title'), form, clientName: client.clientName ?? client.clientId, userCode,
      });
    },
    async successSource(ctx: KoaContextWithOIDC) {
      await render(ctx, 'interaction/device-success', {
        title: t(ctx)('pages.device.success_title'), clientName: ctx.oidc.client?.clientName,
      });
    },
  };
}
