import type { Container } from '../container.js';
import type { Csrf } from '../http/csrf.js';
import type { Renderer } from '../http/render.js';
import type { ProviderHost } from '../oidc/provider.js';

/** What the hosted pages need from the container, plus the HTTP pieces the app builds. */
export type InteractionDeps = Pick<Container,
  'config' | 'accounts' | 'signIn' | 'registration' | 'emailVerification' | 'passwordReset' | 'emailChange' | 'captcha' | 'rateLimits' | 'db' | 'mfa' | 'trustedDevices' | 'webauthn' | 'secretBox' | 'otp' | 'smsEnabled' | 'sessionService'
  | 'altchaDifficulty' | 'secondFactorGuard'
> & { host: ProviderHost; csrf: Csrf; render: Renderer }
  // Sign-in from a browser not seen before (interactions/new-device-notice.ts).
  & Pick<Container, 'knownDevices' | 'securityNotices'>
  // A request for a privileged API needs a second factor now (apis/privileged-api-policy.ts).
  & Pick<Container, 'apis'>;
