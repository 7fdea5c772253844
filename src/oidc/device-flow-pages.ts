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

/**
 * The hosted pages of the device authorization grant (RFC 8628 §3.3). oidc-provider hands each
 * page its form with the CSRF field (`xsrf`) already in it; our buttons submit that form.
 */
export function deviceFlowPages(config: ResolvedConfig, render: Renderer) {
  const t = (ctx: KoaContextWithOIDC) => translator(ctx.state.locale ?? config.branding.defaultLocale);
  return {
    async userCodeInputSource(ctx: KoaContextWithOIDC, form: string, _out?: unknown, error?: unknown) {
      const message = inputError(error as { name?: string; userCode?: string } | undefined);
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
