import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import type { AccountView } from '../../accounts/account-service.js';
import { AppError, NotFoundError } from '../../errors/app-error.js';
import { emailSearchKey } from '../../identifiers/canonical-email.js';
import { formEmailField } from '../../identifiers/email-field.js';
import { fieldErrors } from '../../interactions/form-schemas.js';
import { meterSettings, passwordProblemText, tr, translateErrors } from '../../interactions/page-context.js';
import { adminRole } from '../api/admin-api.js';
import { param, refusal, refusalText, type ConsoleDeps, type ConsoleKit } from './console-kit.js';

const pageSize = 25;
const accountId = z.uuid();
const listQuery = z.object({ q: z.string().trim().max(320).optional().catch(undefined), after: z.string().max(320).optional().catch(undefined) });
const createForm = z.object({
  email: formEmailField(),
  name: z.string().trim().max(200).optional(),
  password: z.string().min(1, 'pages.login.enter_password').max(4096, 'pages.password.too_long'),
  verified: z.literal('on').optional(),
});

/** Undefined for a search that names no account; any other failure propagates. */
function notFound(error: unknown): undefined {
  if (error instanceof NotFoundError) return undefined;
  throw error;
}

/** Account actions: each a button on the account page, a POST, and an audited service call. */
const actions = ['disable', 'enable', 'unlock', 'verify-email', 'reset-mfa', 'end-sessions'] as const;
type Action = (typeof actions)[number];

/** /admin/accounts: search and page through accounts, create one, act on one, set its roles. */
export function registerAccountPages(router: Router, kit: ConsoleKit, { container }: ConsoleDeps): void {
  const { accounts, accountAdmin, policy, mfa, rbac, audit, config } = container;
  const who = (ctx: Context) => ({ actor: kit.actor(ctx), ip: ctx.state.clientIp as string | undefined, userAgent: ctx.get('user-agent') || undefined });

  /**
   * A page of accounts by email. A search is an email's beginning, or a whole address or account
   * id: accounts are listed in email order, so the matches start right after the search text.
   */
  async function listing(q: string | undefined, after: string | undefined): Promise<{ items: AccountView[]; next?: string }> {
    const prefix = q === undefined ? undefined : emailSearchKey(q);
    const batch = await accounts.list(pageSize + 1, after ?? (prefix || undefined));
    const exact = q && !after && (q.includes('@') || accountId.safeParse(q).success) ? await accountAdmin.show(q).catch(notFound) : undefined;
    const matching = [...(exact ? [exact] : []), ...batch.filter((account) =>
      account.id !== exact?.id && (!prefix || account.emailCanonical.startsWith(prefix)))];
    const items = matching.slice(0, pageSize);
    return { items, next: matching.length > pageSize ? items.at(-1)!.email : undefined };
  }

  const newPage = (ctx: Context, values: Record<string, string | undefined> = {}, errors: Record<string, string> = {}, formError?: string, status = 200) =>
    kit.page(ctx, 'accounts', 'account-new', 'pages.admin.accounts.new_title', { values, errors, formError, meter: meterSettings(config.passwordPolicy) }, status);

  async function accountPage(ctx: Context, account: AccountView, locals: Record<string, unknown> = {}, status = 200) {
    await kit.page(ctx, 'accounts', 'account', 'pages.admin.accounts.account_title', {
      account, self: account.id === ctx.state.account.id, factors: await mfa.listFactors(account.id),
      roles: (await rbac.list()).map((role) => role.name),
      events: (await audit.query({ accountId: account.id, limit: 10 })).items, ...locals,
    }, status);
  }

  router.get('/accounts', async (ctx) => {
    const { q, after } = listQuery.parse(ctx.query);
    const { items, next } = await listing(q, after);
    const more = next ? `/admin/accounts?${new URLSearchParams({ ...(q ? { q } : {}), after: next })}` : undefined;
    await kit.page(ctx, 'accounts', 'accounts', 'pages.admin.accounts.title', { accounts: items, q: q ?? '', more });
  });

  router.get('/accounts/new', (ctx) => newPage(ctx));

  router.post('/accounts', async (ctx) => {
    const form = await kit.postedForm(ctx);
    const parsed = createForm.safeParse(form);
    if (!parsed.success) return newPage(ctx, form, translateErrors(ctx, fieldErrors(parsed.error)), tr(ctx, 'pages.admin.fix_errors'), 400);
    const { email, name, password, verified } = parsed.data;
    const verdict = await policy.check(password, { email, name });
    if (!verdict.ok) return newPage(ctx, form, { password: passwordProblemText(ctx, verdict.problems) }, tr(ctx, 'pages.admin.fix_errors'), 400);
    try {
      const account = await accounts.create({ email, name, password, verified: verified === 'on' }, kit.actor(ctx));
      kit.seeOther(ctx, `/admin/accounts/${account.id}`, 'created');
    } catch (error) {
      const refused = refusal(error);
      const field = ({
        invalid_email: ['email', 'pages.account.invalid_email'],
        email_ambiguous: ['email', 'pages.account.email_ambiguous'],
        email_control_characters: ['email', 'pages.account.email_control_characters'],
        email_taken: ['email', 'pages.account.email_taken'],
      } as Record<string, [string, string]>)[refused.code];
      return newPage(ctx, form, field ? { [field[0]]: tr(ctx, field[1]) } : {}, field ? tr(ctx, 'pages.admin.fix_errors') : refusalText(ctx, refused), 400);
    }
  });

  router.get('/accounts/:accountId', async (ctx) => {
    await accountPage(ctx, await accountAdmin.show(param(ctx, 'accountId', accountId)));
  });

  router.post('/accounts/:accountId/roles', async (ctx) => {
    const form = await kit.postedForm(ctx);
    const account = await accountAdmin.show(param(ctx, 'accountId', accountId));
    // One checkbox per role, named role:<name>, so the form reader's one-value-per-name holds.
    const wanted = Object.keys(form).filter((key) => key.startsWith('role:') && form[key] === 'on').map((key) => key.slice('role:'.length));
    if (account.id === ctx.state.account.id && !wanted.includes(adminRole)) {
      return accountPage(ctx, account, { formError: tr(ctx, 'pages.admin.accounts.keep_own_admin') }, 400);
    }
    try {
      await accountAdmin.setRoles(account.id, wanted, who(ctx));
    } catch (error) {
      return accountPage(ctx, account, { formError: refusalText(ctx, error) }, 400);
    }
    kit.seeOther(ctx, `/admin/accounts/${account.id}`, 'roles_saved');
  });

  router.post('/accounts/:accountId/:action', async (ctx) => {
    await kit.postedForm(ctx);
    const action = param(ctx, 'action', z.enum(actions)) as Action;
    const account = await accountAdmin.show(param(ctx, 'accountId', accountId));
    // Locking oneself out of the console from inside it helps nobody; the CLI can still do it.
    if (account.id === ctx.state.account.id && (action === 'disable' || action === 'reset-mfa')) {
      return accountPage(ctx, account, { formError: tr(ctx, 'pages.admin.accounts.not_on_self') }, 400);
    }
    const run: Record<Action, () => Promise<unknown>> = {
      disable: () => accountAdmin.disable(account.id, who(ctx)),
      enable: () => accountAdmin.enable(account.id, who(ctx)),
      unlock: () => accountAdmin.unlock(account.id, who(ctx)),
      'verify-email': () => accountAdmin.verifyEmail(account.id, who(ctx)),
      'reset-mfa': () => accountAdmin.resetMfa(account.id, who(ctx)),
      'end-sessions': () => accountAdmin.endSessions(account.id, who(ctx)),
    };
    try {
      await run[action]();
    } catch (error) {
      if (error instanceof AppError && error.status === 404) throw error;
      return accountPage(ctx, account, { formError: refusalText(ctx, error) }, 400);
    }
    kit.seeOther(ctx, `/admin/accounts/${account.id}`, 'action_done');
  });
}
