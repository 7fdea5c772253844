import type { Context } from 'koa';
import { readForm } from '../http/form-body.js';
import type { InteractionDeps } from './interaction-deps.js';
import { describeScopes, grantConsent } from './consent.js';
import { loadInteraction } from './load-interaction.js';
import { tr } from './page-context.js';

/** Consent: skipped for first-party clients, otherwise one explicit "Allow". */
export function createConsentHandlers({ host, csrf, render }: InteractionDeps) {
  return {
    async show(ctx: Context, details: Awaited<ReturnType<typeof loadInteraction>>['details'], client: { clientId: string; clientName?: string; [key: string]: unknown }) {
      if (client['first_party'] === true) {
        const grantId = await grantConsent(host.provider, details);
        return host.provider.interactionFinished(ctx.req, ctx.res, { consent: { grantId } }, { mergeWithLastSubmission: true });
      }
      await render(ctx, 'interaction/consent', {
        title: tr(ctx, 'pages.consent.title'), uid: details.uid, clientName: client.clientName ?? client.clientId,
        scopes: describeScopes(details, (key, params) => tr(ctx, key, params)),
      });
    },

    async confirm(ctx: Context) {
      const { details } = await loadInteraction(host, ctx, 'consent');
      const form = await readForm(ctx);
      csrf.verify(ctx, form.csrf);
      const grantId = await grantConsent(host.provider, details);
      await host.provider.interactionFinished(ctx.req, ctx.res, { consent: { grantId } }, { mergeWithLastSubmission: true });
    },
  };
}
