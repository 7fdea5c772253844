import type { Context } from 'koa';
import Provider, { errors } from 'oidc-provider';
import type { Locale } from '../i18n/i18n.js';
import { negotiateLocale } from '../i18n/i18n.js';
import type { ProviderHost } from '../oidc/provider.js';

export type InteractionDetails = Awaited<ReturnType<Provider['interactionDetails']>>;

/** Server-side progress of a sign-in that isn't finished yet, kept on the Interaction. */
export interface PendingSignIn {
  accountId: string;
  remember: boolean;
  step: 'change_password' | 'mfa' | 'mfa_enrol' | 'recovery_codes';
  /** How the person has proven themselves so far (RFC 8176 values). */
  amr: string[];
  /** The TOTP factor being enrolled during this sign-in. */
  enrolFactorId?: string;
  /** A signed-in person asked for a second factor by the client (acr_values, client policy). */
  stepUp?: boolean;
}

/**
 * Re-reads the interaction from its cookie and checks the URL's uid and the prompt the step
 * expects, so a POST out of order can't skip a step; `ui_locales` picks the page language.
 */
export async function loadInteraction(host: ProviderHost, ctx: Context, expectedPrompt?: string) {
  const details = await host.provider.interactionDetails(ctx.req, ctx.res);
  if (details.uid !== ctx.params.uid) throw new errors.SessionNotFound('interaction does not match this browser session');
  if (expectedPrompt && details.prompt.name !== expectedPrompt) {
    throw new errors.InvalidRequest(`this step expects the ${details.prompt.name} prompt`);
  }
  const client = await host.provider.Client.find(String(details.params.client_id));
  if (!client) throw new errors.InvalidClient('client not found');
  const uiLocales = typeof details.params.ui_locales === 'string' ? details.params.ui_locales.replace(/\s+/g, ',') : undefined;
  if (uiLocales) ctx.state.locale = negotiateLocale(`${uiLocales},${ctx.get('accept-language')}`, ctx.state.locale as Locale);
  const pending = (details.result as { portcullis?: PendingSignIn } | undefined)?.portcullis;
  return { details, client, pending };
}
